/** 100 ms doubling to 5 s, as librdkafka's reconnect backoff. */
export function backoffMs(attempt: number): number {
  return Math.min(5_000, 100 * 2 ** Math.max(0, attempt - 1));
}

/** A retry's wait; it does not hold the process open. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
