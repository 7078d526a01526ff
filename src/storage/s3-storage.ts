import { Agent } from 'node:https';
import { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { parseS3Url } from '../api/names.ts';
import { type S3AddressingStyle, s3AddressingStyle } from '../api/taskmanager-env.ts';
import { backoffMs, delay } from '../retry.ts';
import {
  type CheckpointStorage,
  checkKey,
  type ObjectBytes,
  ObjectMissingError,
  objectLength,
  type PutOptions,
  StorageUnavailableError,
} from './checkpoint-storage.ts';
import { s3RequestError } from './s3-errors.ts';

export interface S3StorageOptions {
  /** s3://bucket/prefix */
  url: string;
  endpoint?: string;
  region: string;
  /** path: endpoint/bucket/key; virtual: bucket.endpoint/key. Unset: as s3AddressingStyle() defaults it. */
  addressingStyle?: S3AddressingStyle;
  /** A PEM bundle trusted in addition to the system's CAs (a private CA's MinIO or gateway). */
  tlsCa?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Per-request timeout; a hung store must fail the checkpoint, not stall it past its timeout. */
  requestTimeoutMs?: number;
  /** Objects larger than this are uploaded in parts of this size (at least 5 MiB, S3's minimum part). */
  partSizeBytes?: number;
  /** Tries of a read (get, list) that fails retriably, with the project's backoff between: 6 (about 3 s) unless set. */
  readAttempts?: number;
}

/** 8 MiB parts, four in flight: at most 32 MiB of a snapshot is in transit at once. */
const defaultPartSize = 8 * 1024 * 1024;
const partsInFlight = 4;

function isMissing(error: unknown): boolean {
  return error instanceof NoSuchKey || (error as { name?: string })?.name === 'NoSuchKey';
}

export class S3Storage implements CheckpointStorage {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly agent: Agent | undefined;
  private readonly readAttempts: number;

  constructor(options: S3StorageOptions) {
    const { bucket, prefix } = parseS3Url(options.url);
    this.bucket = bucket;
    this.prefix = prefix;
    this.readAttempts = options.readAttempts ?? 6;
    this.partSize = Math.max(5 * 1024 * 1024, options.partSizeBytes ?? defaultPartSize);
    // The SDK's own agent keeps connections alive with up to 50 sockets; ours does the same, trusting one more CA.
    this.agent = options.tlsCa
      ? new Agent({ keepAlive: true, maxSockets: 50, ca: [...rootCertificates, options.tlsCa] })
      : undefined;
    this.client = new S3Client({
      region: options.region,
      forcePathStyle: s3AddressingStyle(options) === 'path',
      maxAttempts: 1, // the checkpoint protocol decides about retries, within its timeout
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      requestHandler: {
        requestTimeout: options.requestTimeoutMs ?? 30_000,
        connectionTimeout: 5_000,
        ...(this.agent ? { httpsAgent: this.agent } : {}),
      },
    });
  }

  describe(key: string): string {
    return `s3://${this.bucket}/${this.prefix}${key}`;
  }

  /**
   * One PutObject up to the part size, a multipart upload above it. An
   * aborted signal abandons the upload: parts in flight finish or time out,
   * then the multipart upload is aborted on the server, so no parts are left
   * behind to cost storage.
   */
  async put(key: string, bytes: ObjectBytes, options: PutOptions = {}): Promise<void> {
    checkKey(key);
    const abort = new AbortController();
    const length = objectLength(bytes);
    // Parts are streamed: the upload copies a part's worth at a time, never the object whole.
    const body = Buffer.isBuffer(bytes) ? bytes : Readable.from(bytes, { objectMode: false });
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.prefix + key, Body: body, ContentLength: length },
      partSize: this.partSize,
      queueSize: partsInFlight,
      leavePartsOnError: false,
      abortController: abort,
    });
    const { onProgress } = options;
    if (onProgress) upload.on('httpUploadProgress', (p) => onProgress(p.loaded ?? 0, length));
    const onAbort = () => void upload.abort();
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } catch (error) {
      throw s3RequestError(abort.signal.aborted ? 'put (aborted)' : 'put', this.describe(key), error);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Reads are idempotent and lie on the restore path, where one 503 or reset
   * connection would fail a pod: a retriable failure (STORAGE_UNAVAILABLE) is
   * tried again with the project's backoff, readAttempts times in all.
   */
  async get(key: string, range?: { start: number; length: number }): Promise<Buffer> {
    checkKey(key);
    if (range && range.length === 0) return Buffer.alloc(0);
    return this.retried(() => this.getOnce(key, range));
  }

  private async retried<T>(read: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await read();
      } catch (error) {
        if (!(error instanceof StorageUnavailableError) || attempt >= this.readAttempts) throw error;
        await delay(backoffMs(attempt));
      }
    }
  }

  private async getOnce(key: string, range?: { start: number; length: number }): Promise<Buffer> {
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
      throw s3RequestError('get', this.describe(key), error);
    }
  }

  list(prefix: string): Promise<string[]> {
    return this.retried(() => this.listOnce(prefix));
  }

  private async listOnce(prefix: string): Promise<string[]> {
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
      throw s3RequestError('list', this.describe(prefix), error);
    }
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
    } catch (error) {
      throw s3RequestError('delete', this.describe(key), error);
    }
  }

  /** One ListObjectsV2 of at most one key under the prefix: reaches the endpoint, proves the bucket and the credentials. */
  async check(): Promise<void> {
    try {
      await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, MaxKeys: 1 }),
      );
    } catch (error) {
      throw s3RequestError('list', this.describe(''), error);
    }
  }

  close(): void {
    this.client.destroy();
    this.agent?.destroy();
  }
}
