/**
 * How a savepoint is named, by the operator (status, env) and the runtime
 * (storage keys, the control API) alike: by id within its job, or by the
 * s3:// URL of its folder, which may belong to another job or namespace.
 */

/** Savepoint ids name a storage prefix and travel in env vars and request bodies. */
export const savepointIdPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * s3://<bucket>[/<prefix>]/<namespace>/<job>/savepoints/<id>[/], as status.savepoints[].path shows it.
 * The same text is the schema pattern of spec.initialSavepoint's URL form.
 */
const savepointUrlSource =
  's3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/((?:[^/]+/)*?)([a-z0-9][a-z0-9-]{0,62})/([a-z0-9][a-z0-9.-]{0,62})/savepoints/([a-z0-9][a-z0-9-]{0,62})/?';
const savepointUrlPattern = new RegExp(`^${savepointUrlSource}$`);

/** The schema pattern of spec.initialSavepoint: an id of this job, or a savepoint's s3:// URL. */
export const savepointRefPattern = `^([a-z0-9][a-z0-9-]{0,62}|${savepointUrlSource})$`;

export type SavepointRef =
  | { kind: 'id'; id: string }
  | {
      kind: 'url';
      /** s3://<bucket>[/<prefix>]: the storage URL of the job that took it. */
      storageUrl: string;
      namespace: string;
      job: string;
      id: string;
    };

/** Parses a savepoint id or URL; anything else is an error naming the forms it may take. */
export function parseSavepointRef(value: string): SavepointRef {
  if (savepointIdPattern.test(value)) return { kind: 'id', id: value };
  const match = savepointUrlPattern.exec(value);
  if (!match) {
    throw new Error(
      `"${value}" is neither a savepoint id (lower-case letters, digits, dashes) nor s3://<bucket>[/<prefix>]/<namespace>/<job>/savepoints/<id>/`,
    );
  }
  const [, bucket, prefix, namespace, job, id] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const trimmed = prefix.replace(/\/$/, '');
  return { kind: 'url', storageUrl: `s3://${bucket}${trimmed ? `/${trimmed}` : ''}`, namespace, job, id };
}
