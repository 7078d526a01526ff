/**
 * The project's one backoff (Kafka clients, S3 reads): 100 ms for the first retry, doubling up to
 * `maxMs` (5 s by default, as librdkafka's reconnect backoff).
 */
export function backoffMs(attempt: number, maxMs = 5_000): number {
  return Math.min(maxMs, 100 * 2 ** Math.max(0, attempt - 1));
}

/** A retry's wait; it does not hold the process open. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
