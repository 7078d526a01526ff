import type { WireSecurity } from './broker-connection.ts';

const mechanisms = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

/**
 * The connection security that librdkafka settings describe (the ones
 * src/runtime/config.ts builds from the pod's environment), so both clients
 * of a task connect the same way.
 */
export function wireSecurity(settings: Readonly<Record<string, string | number | boolean>>): WireSecurity {
  const protocol = String(settings['security.protocol'] ?? 'plaintext').toLowerCase();
  if (!['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl'].includes(protocol)) {
    throw new Error(`security.protocol "${protocol}" is not one of plaintext, ssl, sasl_plaintext, sasl_ssl`);
  }
  const security: WireSecurity = {};
  if (protocol.endsWith('ssl')) {
    const text = (name: string) => (settings[name] === undefined ? undefined : String(settings[name]));
    const ca = text('ssl.ca.pem');
    const certificate = text('ssl.certificate.pem');
    const key = text('ssl.key.pem');
    security.tls = {
      ...(ca ? { ca } : {}),
      ...(certificate ? { certificate } : {}),
      ...(key ? { key } : {}),
    };
  }
  if (protocol.startsWith('sasl')) {
    const mechanism = String(settings['sasl.mechanisms'] ?? 'PLAIN').toUpperCase();
    if (!(mechanisms as readonly string[]).includes(mechanism)) {
      throw new Error(`sasl.mechanisms "${mechanism}" is not one of ${mechanisms.join(', ')}`);
    }
    security.sasl = {
      mechanism: mechanism as (typeof mechanisms)[number],
      username: String(settings['sasl.username'] ?? ''),
      password: String(settings['sasl.password'] ?? ''),
    };
  }
  return security;
}
