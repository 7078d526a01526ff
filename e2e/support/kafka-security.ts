import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type AclResource, jobAcls } from '../../src/api/kafka-acls.ts';
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
 * Grants the principal exactly what `weir kafka-acls` prints for the job
 * (src/api/kafka-acls.ts, the list docs/security.md gives), so the e2e runs
 * jobs under the documented grants. `except` leaves one grant out, to see
 * what a missing ACL does.
 */
export async function grantJobAcls(
  principal: string,
  job: { namespace: string; name: string; input: string; output: string; moreOutputs?: string[] },
  except?: 'output-write' | 'group',
): Promise<void> {
  const acls = jobAcls({
    namespace: job.namespace,
    job: job.name,
    inputs: [job.input],
    outputs: [job.output, ...(job.moreOutputs ?? [])],
  });
  for (const acl of acls) {
    if (except === 'group' && acl.resource === 'group') continue;
    const operations =
      except === 'output-write' && acl.resource === 'topic' && acl.name === job.output
        ? acl.operations.filter((o) => o !== 'Write')
        : acl.operations;
    await allow(
      principal,
      aclResourceTypes[acl.resource],
      acl.pattern === 'prefixed' ? 'PREFIXED' : 'LITERAL',
      acl.name,
      operations.map((o) => o.toUpperCase()),
    );
  }
}

const aclResourceTypes: Record<AclResource, ResourceType> = {
  topic: 'TOPIC',
  group: 'GROUP',
  'transactional-id': 'TRANSACTIONAL_ID',
};
