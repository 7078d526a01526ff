import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';

const bucket = process.argv[2];
const endpoint = process.env.WEIR_S3_ENDPOINT;
const accessKeyId = process.env.WEIR_S3_ACCESS_KEY;
const secretAccessKey = process.env.WEIR_S3_SECRET_KEY;
if (!bucket || !endpoint || !accessKeyId || !secretAccessKey) {
  process.stderr.write(
    'usage: WEIR_S3_ENDPOINT=… WEIR_S3_ACCESS_KEY=… WEIR_S3_SECRET_KEY=… ensure-bucket.ts <bucket>\n',
  );
  process.exit(2);
}
const s3 = new S3Client({
  endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId, secretAccessKey },
});
try {
  await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  process.stderr.write(`    bucket ${bucket}: exists\n`);
} catch {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  process.stderr.write(`    bucket ${bucket}: created\n`);
}
