/** Bucket and key prefix (empty, or ending in "/") of an s3://bucket[/prefix] URL. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!match) throw new Error(`storage url "${url}" is not s3://<bucket>[/<prefix>]`);
  const prefix = (match[2] ?? '').replace(/\/+$/, '');
  return { bucket: match[1] as string, prefix: prefix ? `${prefix}/` : '' };
}
