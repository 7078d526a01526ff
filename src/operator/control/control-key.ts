import { randomBytes } from 'node:crypto';
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { labels, managedBy } from '../../api/constants.ts';
import { httpStatus, OperatorError } from '../errors.ts';
import { minimumControlKeyBytes } from './job-token.ts';

/** The data key of the operator's key Secret. */
export const controlKeyDataKey = 'key';

export type ControlKeyContent = { kind: 'key'; key: Buffer } | { kind: 'empty' };

/**
 * What a key Secret holds. The Helm chart creates it without data (a render
 * must not contain a secret value, or `helm template` output would change on
 * every run), and the first operator replica fills it in.
 */
export function controlKeyContent(secret: V1Secret, where: string): ControlKeyContent {
  const encoded = secret.data?.[controlKeyDataKey];
  if (encoded === undefined || encoded === '') return { kind: 'empty' };
  const key = Buffer.from(encoded, 'base64');
  if (key.length < minimumControlKeyBytes) {
    throw new OperatorError(
      'CONTROL_KEY_INVALID',
      `Secret ${where}: data.${controlKeyDataKey} holds ${key.length} bytes; at least ${minimumControlKeyBytes} are needed (delete the key to have one generated)`,
      false,
    );
  }
  return { kind: 'key', key };
}

export interface ControlKeyOptions {
  core: CoreV1Api;
  namespace: string;
  name: string;
  log: Logger;
}

/**
 * Reads the operator's control key, generating it on first use. Replicas can
 * race here; every write carries a resourceVersion or is a create, so exactly
 * one key wins and the loser reads it back.
 */
export async function loadControlKey({ core, namespace, name, log }: ControlKeyOptions): Promise<Buffer> {
  const where = `${namespace}/${name}`;
  for (let attempt = 1; attempt <= 5; attempt++) {
    let secret: V1Secret | undefined;
    try {
      secret = await core.readNamespacedSecret({ name, namespace });
    } catch (error) {
      if (httpStatus(error) !== 404) throw keyError(where, 'get', error);
    }
    const content = secret ? controlKeyContent(secret, where) : { kind: 'empty' as const };
    if (content.kind === 'key') return content.key;

    const data = { [controlKeyDataKey]: randomBytes(minimumControlKeyBytes).toString('base64') };
    try {
      if (secret) {
        await core.replaceNamespacedSecret({ name, namespace, body: { ...secret, data } });
      } else {
        await core.createNamespacedSecret({
          namespace,
          body: {
            metadata: { name, namespace, labels: { [labels.managedBy]: managedBy } },
            type: 'Opaque',
            data,
          },
        });
      }
      log.info({ secret: where }, 'generated the control key');
    } catch (error) {
      if (httpStatus(error) === 409) continue; // another replica wrote it first: read theirs
      throw keyError(where, secret ? 'update' : 'create', error);
    }
  }
  throw new OperatorError('CONTROL_KEY_CONFLICT', `Secret ${where}: kept changing while being read`, true);
}

function keyError(where: string, verb: string, error: unknown): OperatorError {
  const status = httpStatus(error);
  const hint =
    status === 403
      ? ` (forbidden: the operator needs ${verb} on this one Secret; the Helm chart grants it and creates the Secret)`
      : '';
  return new OperatorError(
    'CONTROL_KEY_UNAVAILABLE',
    `Secret ${where}: ${verb} failed${hint}: ${(error as Error).message}`,
    status !== 403,
    { cause: error },
  );
}
