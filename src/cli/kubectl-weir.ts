#!/usr/bin/env node
/**
 * kubectl-weir: the kubectl plugin (`kubectl weir …`) for StreamJobs. kubectl
 * finds it as an executable named kubectl-weir on the PATH; the package and
 * the image install one.
 */
import { runPlugin } from './plugin/commands.ts';
import { PluginKube } from './plugin/kube.ts';

try {
  process.exitCode = await runPlugin(process.argv.slice(2), () => new PluginKube(), {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    now: () => new Date(),
  });
} catch (error) {
  const coded = error as { code?: string; message?: string };
  process.stderr.write(`error: ${coded.code ? `${coded.code}: ` : ''}${coded.message ?? String(error)}\n`);
  process.exitCode = coded.code === 'INVALID_ARGUMENTS' ? 2 : 1;
}
