import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { s3RequestError } from './s3-errors.ts';

/** Errors shaped as the AWS SDK and Node raise them. */
const sdk = (name: string, status: number) =>
  Object.assign(new Error(`${name} from S3`), { name, $metadata: { httpStatusCode: status } });
const node = (code: string) => Object.assign(new Error(`${code} from Node`), { code });

describe('an S3 request error names its cause', () => {
  const cases: [string, unknown, string, boolean, RegExp][] = [
    ['wrong access key', sdk('InvalidAccessKeyId', 403), 'S3_ACCESS_DENIED', false, /access denied/],
    ['wrong secret', sdk('SignatureDoesNotMatch', 403), 'S3_ACCESS_DENIED', false, /credentials/],
    ['a policy without the permission', sdk('AccessDenied', 403), 'S3_ACCESS_DENIED', false, /permissions/],
    ['a bare 403', sdk('Forbidden', 403), 'S3_ACCESS_DENIED', false, /403/],
    ['no bucket', sdk('NoSuchBucket', 404), 'S3_BUCKET_MISSING', false, /bucket does not exist/],
    ['another region', sdk('PermanentRedirect', 301), 'S3_WRONG_REGION', false, /storage\.region/],
    ['an untrusted CA', node('SELF_SIGNED_CERT_IN_CHAIN'), 'S3_TLS_FAILED', false, /tls\.ca/],
    ['an untrusted leaf', node('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'S3_TLS_FAILED', false, /not trusted/],
    [
      'a name the certificate does not carry',
      node('ERR_TLS_CERT_ALTNAME_INVALID'),
      'S3_TLS_FAILED',
      false,
      /TLS/,
    ],
    [
      'TLS code wrapped as a cause',
      new Error('request failed', { cause: node('DEPTH_ZERO_SELF_SIGNED_CERT') }),
      'S3_TLS_FAILED',
      false,
      /DEPTH_ZERO_SELF_SIGNED_CERT/,
    ],
    ['refused', node('ECONNREFUSED'), 'STORAGE_UNAVAILABLE', true, /ECONNREFUSED/],
    ['a server error', sdk('InternalError', 500), 'STORAGE_UNAVAILABLE', true, /InternalError/],
    [
      'a timeout',
      Object.assign(new Error('timed out'), { name: 'TimeoutError' }),
      'STORAGE_UNAVAILABLE',
      true,
      /timed out/,
    ],
  ];
  for (const [what, raw, code, retriable, message] of cases) {
    it(what, () => {
      const error = s3RequestError('put', 's3://b/p/k', raw);
      assert.equal(error.code, code);
      assert.equal(error.retriable, retriable);
      assert.match(error.message, /^put s3:\/\/b\/p\/k: /);
      assert.match(error.message, message);
      assert.equal(error.cause, raw);
    });
  }
});
