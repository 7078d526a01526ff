const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

export class DurationError extends Error {
  readonly code = 'INVALID_DURATION';
  readonly retriable = false;
}

/** Parses the CRD's duration syntax (500ms, 10s, 1h30m) to milliseconds. */
export function parseDuration(text: string, field: string): number {
  const parts = [...text.matchAll(/([0-9]+)(ms|s|m|h)/g)];
  if (text.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new DurationError(`${field}: "${text}" is not a duration such as 500ms, 10s, 1m or 1h30m`);
  }
  return parts.reduce(
    (total, [, amount, unit]) => total + Number(amount) * unitMs[unit as keyof typeof unitMs],
    0,
  );
}
