import { requireEnv } from './cluster.ts';

/**
 * The addresses a StreamJob's pods reach the harness's Kafka and MinIO by, for the specs the suites apply. On kind
 * they are names that CoreDNS resolves to the host-side services (WEIR_POD_*, written by e2e/kind/up.sh; the broker
 * advertises the name on listeners of their own), as a user's CI names services outside its cluster. The local
 * cluster has no DNS, so there they are the addresses the host's clients use. The host side of a test (its own
 * producers, readers and S3 checks) keeps those host addresses in either case.
 */
export function podKafkaBootstrap(): string {
  return podOrHost('WEIR_POD_KAFKA_BOOTSTRAP', 'WEIR_KAFKA_BOOTSTRAP');
}

/** The SCRAM-over-TLS listener; its certificate names both the address and the DNS name. */
export function podKafkaSaslSslBootstrap(): string {
  return podOrHost('WEIR_POD_KAFKA_SASL_SSL_BOOTSTRAP', 'WEIR_KAFKA_SASL_SSL_BOOTSTRAP');
}

export function podS3Endpoint(): string {
  return podOrHost('WEIR_POD_S3_ENDPOINT', 'WEIR_S3_ENDPOINT');
}

/** The MinIO that serves only TLS; its certificate names both the address and the DNS name. */
export function podS3TlsEndpoint(): string {
  return podOrHost('WEIR_POD_S3_TLS_ENDPOINT', 'WEIR_S3_TLS_ENDPOINT');
}

function podOrHost(podVariable: string, hostVariable: string): string {
  return process.env[podVariable] || requireEnv(hostVariable);
}
