import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { wireSecurity } from './wire-security.ts';

describe('wireSecurity', () => {
  const rows: [string, Record<string, string>, ReturnType<typeof wireSecurity>][] = [
    ['nothing set: plaintext', {}, {}],
    ['ssl with a CA', { 'security.protocol': 'ssl', 'ssl.ca.pem': 'CA' }, { tls: { ca: 'CA' } }],
    [
      'mutual TLS',
      { 'security.protocol': 'ssl', 'ssl.certificate.pem': 'C', 'ssl.key.pem': 'K' },
      { tls: { certificate: 'C', key: 'K' } },
    ],
    [
      'SCRAM over TLS',
      {
        'security.protocol': 'sasl_ssl',
        'sasl.mechanisms': 'SCRAM-SHA-512',
        'sasl.username': 'u',
        'sasl.password': 'p',
      },
      { tls: {}, sasl: { mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' } },
    ],
    [
      'PLAIN without TLS, mechanism by default',
      { 'security.protocol': 'SASL_PLAINTEXT', 'sasl.username': 'u', 'sasl.password': 'p' },
      { sasl: { mechanism: 'PLAIN', username: 'u', password: 'p' } },
    ],
  ];
  for (const [name, settings, expected] of rows) {
    it(name, () => assert.deepEqual(wireSecurity(settings), expected));
  }

  it('names a protocol or mechanism it does not speak', () => {
    assert.throws(() => wireSecurity({ 'security.protocol': 'kerberos' }), /security.protocol "kerberos"/);
    assert.throws(
      () => wireSecurity({ 'security.protocol': 'sasl_ssl', 'sasl.mechanisms': 'GSSAPI' }),
      /sasl.mechanisms "GSSAPI"/,
    );
  });
});
