import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { WireSecurity } from './broker-connection.ts';
import { WireFormatError } from './wire-error.ts';

/** Kafka's own ceiling for a SCRAM credential's iteration count (ScramMechanism). */
const maxScramIterations = 16_384;

type Sasl = NonNullable<WireSecurity['sasl']>;

/**
 * A SASL exchange as the client's messages: `first()` opens it, `next()`
 * takes the server's answer and gives the client's reply, or undefined once
 * the exchange is complete. Throws when the server's answer is wrong.
 */
export interface SaslExchange {
  first(): Buffer;
  next(server: Buffer): Buffer | undefined;
}

export function saslExchange(sasl: Sasl, nonce = randomBytes(24).toString('base64')): SaslExchange {
  if (sasl.mechanism === 'PLAIN') {
    return {
      first: () => Buffer.from(`\0${sasl.username}\0${sasl.password}`, 'utf8'),
      next: () => undefined,
    };
  }
  return new ScramExchange(sasl.mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512', sasl, nonce);
}

/** RFC 5802 SCRAM, client side, without channel binding (as Kafka uses it). */
class ScramExchange implements SaslExchange {
  private step: 'first' | 'final' | 'verify' | 'done' = 'first';
  private readonly clientFirstBare: string;
  private serverSignature: Buffer | undefined;

  private readonly hash: 'sha256' | 'sha512';
  private readonly sasl: Sasl;
  private readonly nonce: string;

  constructor(hash: 'sha256' | 'sha512', sasl: Sasl, nonce: string) {
    this.hash = hash;
    this.sasl = sasl;
    this.nonce = nonce;
    const user = sasl.username.replaceAll('=', '=3D').replaceAll(',', '=2C');
    this.clientFirstBare = `n=${user},r=${nonce}`;
  }

  first(): Buffer {
    this.step = 'final';
    return Buffer.from(`n,,${this.clientFirstBare}`, 'utf8');
  }

  next(server: Buffer): Buffer | undefined {
    const text = server.toString('utf8');
    const fields = new Map(text.split(',').map((part) => [part.slice(0, 1), part.slice(2)] as const));
    const error = fields.get('e');
    if (error !== undefined) throw new Error(`SCRAM: the broker refused the login (${error})`);
    if (this.step === 'final') {
      const nonce = fields.get('r') ?? '';
      const salt = Buffer.from(fields.get('s') ?? '', 'base64');
      const iterations = Number(fields.get('i'));
      if (!nonce.startsWith(this.nonce) || !salt.length || !Number.isInteger(iterations) || iterations < 1) {
        throw new Error('SCRAM: the broker sent a malformed first message');
      }
      // Kafka stores SCRAM credentials with 4096 to 16384 iterations; more would block the event loop in pbkdf2Sync.
      if (iterations > maxScramIterations) {
        throw new WireFormatError(
          `SCRAM: the broker asks for ${iterations} iterations; Kafka allows at most ${maxScramIterations}`,
          'KAFKA_SASL_MALFORMED',
        );
      }
      const keyLength = this.hash === 'sha256' ? 32 : 64;
      const salted = pbkdf2Sync(this.sasl.password, salt, iterations, keyLength, this.hash);
      const clientKey = this.hmac(salted, 'Client Key');
      const storedKey = createHash(this.hash).update(clientKey).digest();
      const withoutProof = `c=biws,r=${nonce}`;
      const authMessage = `${this.clientFirstBare},${text},${withoutProof}`;
      const signature = this.hmac(storedKey, authMessage);
      const proof = Buffer.alloc(clientKey.length);
      for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] as number) ^ (signature[i] as number);
      this.serverSignature = this.hmac(this.hmac(salted, 'Server Key'), authMessage);
      this.step = 'verify';
      return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
    }
    if (this.step === 'verify') {
      const verifier = Buffer.from(fields.get('v') ?? '', 'base64');
      const expected = this.serverSignature as Buffer;
      if (verifier.length !== expected.length || !timingSafeEqual(verifier, expected)) {
        throw new Error("SCRAM: the broker's signature does not match: it does not know this password");
      }
      this.step = 'done';
      return undefined;
    }
    throw new Error('SCRAM: the broker sent a message after the exchange ended');
  }

  private hmac(key: Buffer, text: string): Buffer {
    return createHmac(this.hash, key).update(text, 'utf8').digest();
  }
}
