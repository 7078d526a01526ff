import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { saslExchange } from './sasl.ts';

describe('SASL exchanges', () => {
  it('PLAIN sends the user and password in one message', () => {
    const exchange = saslExchange({ mechanism: 'PLAIN', username: 'u', password: 'p' });
    assert.equal(exchange.first().toString(), '\0u\0p');
    assert.equal(exchange.next(Buffer.alloc(0)), undefined);
  });

  // RFC 7677, section 3: the SCRAM-SHA-256 example.
  const rfc = { mechanism: 'SCRAM-SHA-256', username: 'user', password: 'pencil' } as const;
  const serverFirst =
    'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';

  it("SCRAM-SHA-256 gives RFC 7677's proof and checks the server's signature", () => {
    const exchange = saslExchange(rfc, 'rOprNGfwEbeRWgbNEkqO');
    assert.equal(exchange.first().toString(), 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    assert.equal(
      exchange.next(Buffer.from(serverFirst))?.toString(),
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    );
    assert.equal(exchange.next(Buffer.from('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')), undefined);
  });

  it('SCRAM refuses a server that does not know the password, or that changed the nonce', () => {
    const wrongSignature = saslExchange(rfc, 'rOprNGfwEbeRWgbNEkqO');
    wrongSignature.first();
    wrongSignature.next(Buffer.from(serverFirst));
    assert.throws(
      () => wrongSignature.next(Buffer.from(`v=${Buffer.alloc(32).toString('base64')}`)),
      /signature does not match/,
    );
    const otherNonce = saslExchange(rfc, 'another-nonce');
    otherNonce.first();
    assert.throws(() => otherNonce.next(Buffer.from(serverFirst)), /malformed first message/);
    const refused = saslExchange(rfc, 'rOprNGfwEbeRWgbNEkqO');
    refused.first();
    assert.throws(() => refused.next(Buffer.from('e=invalid-proof')), /refused the login \(invalid-proof\)/);
  });

  it('SCRAM refuses an iteration count above Kafka’s ceiling before hashing (a hostile server would block the event loop)', () => {
    const exchange = saslExchange(rfc, 'rOprNGfwEbeRWgbNEkqO');
    exchange.first();
    const greedy = serverFirst.replace('i=4096', 'i=2000000000');
    assert.notEqual(greedy, serverFirst);
    assert.throws(() => exchange.next(Buffer.from(greedy)), { code: 'KAFKA_SASL_MALFORMED' });
  });
});
