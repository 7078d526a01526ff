import { createRequire } from 'node:module';

/**
 * The Confluent client is CommonJS with a native addon; loading it through
 * require keeps its callback API (assign, consume(n), offsets with metadata)
 * fully typed. Only src/kafka touches it.
 */
const require = createRequire(import.meta.url);
export const rdkafka =
  require('@confluentinc/kafka-javascript') as typeof import('@confluentinc/kafka-javascript');
export type * from '@confluentinc/kafka-javascript';
