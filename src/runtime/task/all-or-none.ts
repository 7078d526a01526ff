/**
 * Every promise's value; or the first failure in the order given, as soon as
 * every promise before it has succeeded (so a failure names the same cause
 * as when they ran one after another, and a refused login found by the first
 * does not wait for the others' timeouts). What did open or still opens is
 * closed with `close`: at once when it has settled, else when it settles.
 */
export async function allOrNone<T extends readonly unknown[]>(
  promises: { readonly [K in keyof T]: Promise<T[K]> },
  close: { readonly [K in keyof T]: ((value: T[K]) => Promise<void>) | undefined },
): Promise<T> {
  type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
  const outcomes: Promise<Outcome>[] = promises.map((p) =>
    (p as Promise<unknown>).then(
      (value): Outcome => ({ ok: true, value }),
      (error: unknown): Outcome => ({ ok: false, error }),
    ),
  );
  const values: unknown[] = [];
  for (const [index, outcome] of outcomes.entries()) {
    const settled = await outcome;
    if (settled.ok) {
      values.push(settled.value);
      continue;
    }
    const closing = outcomes.map((other, i) =>
      other.then((o) => {
        const closeIt = close[i] as ((value: unknown) => Promise<void>) | undefined;
        return o.ok && closeIt ? closeIt(o.value).catch(() => undefined) : undefined;
      }),
    );
    // Those that already opened are closed before the failure is reported; the rest as they open.
    await Promise.all(closing.slice(0, index));
    throw settled.error;
  }
  return values as unknown as T;
}
