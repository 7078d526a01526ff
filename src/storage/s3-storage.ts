import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  type CheckpointStorage,
  checkKey,
  ObjectMissingError,
  StorageUnavailableError,
} from './checkpoint-storage.ts';
import { parseS3Url } from './s3-url.ts';

export interface S3StorageOptions {
  /** s3://bucket/prefix */
  url: string;
  endpoint?: string;
  region: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Per-request timeout; a hung store must fail the checkpoint, not stall it past its timeout. */
  requestTimeoutMs?: number;
}

function isMissing(error: unknown): boolean {
  return error instanceof NoSuchKey || (error as { name?: string })?.name === 'NoSuchKey';
}

export class S3Storage implements CheckpointStorage {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(options: S3StorageOptions) {
    const { bucket, prefix } = parseS3Url(options.url);
    this.bucket = bucket;
    this.prefix = prefix;
    this.client = new S3Client({
      region: options.region,
      forcePathStyle: options.endpoint !== undefined,
      maxAttempts: 1, // the checkpoint protocol decides about retries, within its timeout
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      requestHandler: { requestTimeout: options.requestTimeoutMs ?? 30_000, connectionTimeout: 5_000 },
    });
  }

  describe(key: string): string {
    return `s3://${this.bucket}/${this.prefix}${key}`;
  }

  async put(key: string, bytes: Buffer): Promise<void> {
    checkKey(key);
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Body: bytes }),
      );
    } catch (error) {
      throw new StorageUnavailableError('put', this.describe(key), error);
    }
  }

  async get(key: string, range?: { start: number; length: number }): Promise<Buffer> {
    checkKey(key);
    if (range && range.length === 0) return Buffer.alloc(0);
    try {
      const response = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          ...(range ? { Range: `bytes=${range.start}-${range.start + range.length - 1}` } : {}),
        }),
      );
      return Buffer.from((await response.Body?.transformToByteArray()) ?? new Uint8Array());
    } catch (error) {
      if (isMissing(error)) throw new ObjectMissingError(this.describe(key), { cause: error });
      throw new StorageUnavailableError('get', this.describe(key), error);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            ContinuationToken: token,
          }),
        );
        for (const object of page.Contents ?? [])
          if (object.Key) keys.push(object.Key.slice(this.prefix.length));
        token = page.NextContinuationToken;
      } while (token);
    } catch (error) {
      throw new StorageUnavailableError('list', this.describe(prefix), error);
    }
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
    } catch (error) {
      throw new StorageUnavailableError('delete', this.describe(key), error);
    }
  }

  close(): void {
    this.client.destroy();
  }
}
