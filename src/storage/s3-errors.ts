import { CodedError } from '../errors.ts';
import { StorageUnavailableError } from './checkpoint-storage.ts';

/** Codes S3 answers when the credentials are wrong, expired, or lack a permission. */
const accessDenied = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'AllAccessDisabled',
]);

/** Node's codes for a certificate the client does not trust, or a peer that does not speak TLS. */
const tlsFailures = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

function codeOf(error: unknown): string | undefined {
  const e = error as { name?: unknown; Code?: unknown; code?: unknown; cause?: unknown };
  for (const candidate of [e?.code, e?.Code, e?.name]) {
    if (typeof candidate === 'string' && (accessDenied.has(candidate) || tlsFailures.has(candidate)))
      return candidate;
  }
  if (
    typeof e?.name === 'string' &&
    ['NoSuchBucket', 'PermanentRedirect', 'AuthorizationHeaderMalformed'].includes(e.name)
  )
    return e.name;
  return e?.cause && e.cause !== error ? codeOf(e.cause) : undefined;
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/**
 * A failed S3 request as an error that names its cause: credentials or
 * permissions (S3_ACCESS_DENIED), a bucket that does not exist
 * (S3_BUCKET_MISSING), a region that does not match the bucket's
 * (S3_WRONG_REGION), an endpoint whose certificate is not trusted or that
 * does not speak TLS (S3_TLS_FAILED): none of them heals by retrying as is.
 * Anything else (refused, timed out, a 5xx) is STORAGE_UNAVAILABLE, retriable.
 */
export function s3RequestError(operation: string, location: string, error: unknown): CodedError {
  const code = codeOf(error);
  const detail = (error as Error)?.message || code || String(error);
  const named = (weirCode: string, why: string) =>
    new CodedError(
      weirCode,
      `${operation} ${location}: ${why} (${code ?? statusOf(error)}: ${detail})`,
      false,
      {
        cause: error,
      },
    );
  if ((code && accessDenied.has(code)) || statusOf(error) === 403) {
    return named('S3_ACCESS_DENIED', "access denied: check the job's S3 credentials and their permissions");
  }
  if (code === 'NoSuchBucket') return named('S3_BUCKET_MISSING', 'the bucket does not exist');
  if (code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed') {
    return named('S3_WRONG_REGION', 'the bucket is in another region than spec.checkpoints.storage.region');
  }
  if (code && tlsFailures.has(code)) {
    return named(
      'S3_TLS_FAILED',
      "TLS failed: the endpoint's certificate is not trusted (spec.checkpoints.storage.tls.ca) or it does not speak TLS",
    );
  }
  return new StorageUnavailableError(operation, location, error);
}
