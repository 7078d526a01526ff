import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireEnv } from './cluster.ts';

const run = promisify(execFile);
const tool = join(import.meta.dirname, '..', 'harness', 'KafkaSecurity.java');

/** Runs e2e/harness/KafkaSecurity.java against the harness broker's PLAINTEXT listener (a super user there). */
async function kafkaSecurity(...args: string[]): Promise<void> {
  const classpath = readFileSync(requireEnv('WEIR_KAFKA_CLASSPATH_FILE'), 'utf8').trim();
  await run('java', ['-cp', classpath, tool, requireEnv('WEIR_KAFKA_BOOTSTRAP'), ...args], {
    timeout: 60_000,
  });
}

export function scramUser(user: string, mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512', password: string) {
  return kafkaSecurity('scram', user, mechanism, password);
}

type ResourceType = 'TOPIC' | 'GROUP' | 'TRANSACTIONAL_ID' | 'CLUSTER';

export function allow(
  principal: string,
  type: ResourceType,
  pattern: 'LITERAL' | 'PREFIXED',
  name: string,
  operations: string[],
) {
  return kafkaSecurity('acl', principal, type, pattern, name, operations.join(','));
}

/**
 * The least a Weir job's principal needs, as the README lists it: read its
 * input, write its output, its offset groups, transactional ids and internal
 * topics (changelogs, repartition topics) by prefix.
 * `except` leaves one grant out, to see what a missing ACL does.
 */
export async function grantJobAcls(
  principal: string,
  job: { namespace: string; name: string; input: string; output: string },
  except?: 'output-write' | 'group',
): Promise<void> {
  const prefix = `weir.${job.namespace}.${job.name}.`;
  await allow(principal, 'TOPIC', 'LITERAL', job.input, ['READ', 'DESCRIBE']);
  await allow(
    principal,
    'TOPIC',
    'LITERAL',
    job.output,
    except === 'output-write' ? ['DESCRIBE'] : ['WRITE', 'DESCRIBE'],
  );
  await allow(principal, 'TOPIC', 'PREFIXED', prefix, ['CREATE', 'READ', 'WRITE', 'DESCRIBE', 'DELETE']);
  if (except !== 'group') await allow(principal, 'GROUP', 'PREFIXED', prefix, ['READ']);
  await allow(principal, 'TRANSACTIONAL_ID', 'PREFIXED', prefix, ['WRITE', 'DESCRIBE']);
}
