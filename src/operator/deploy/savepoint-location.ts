import { savepointPrefix } from '../../api/savepoint-ref.ts';
import type { StreamJob } from '../../api/streamjob.ts';
import { parseS3Url } from '../../storage/s3-url.ts';

/** Where the TaskManagers store a savepoint of this job, as the s3:// URL users see in status. */
export function savepointLocation(job: StreamJob, savepointId: string): string {
  const { bucket, prefix } = parseS3Url(job.spec.checkpoints.storage.url);
  const path = savepointPrefix(job.metadata.namespace ?? '', job.metadata.name ?? '', savepointId);
  return `s3://${bucket}/${prefix}${path}`;
}
