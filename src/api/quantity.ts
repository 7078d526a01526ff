/** Bytes per unit of a Kubernetes size quantity (binary and decimal suffixes). */
const units: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/**
 * The bytes of a size such as 128Mi or 10Gi (the CRD's quantityBytesPattern
 * admits only these forms); `field` names the spec field in the error.
 */
export function quantityBytes(text: string, field: string): number {
  const match = /^([0-9]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(text);
  const bytes = match ? Number(match[1]) * (units[match[2] ?? ''] as number) : Number.NaN;
  if (!Number.isSafeInteger(bytes))
    throw new RangeError(
      `${field}: "${text}" is not a size such as 512Mi or 10Gi (whole bytes, Ki, Mi, Gi, Ti, k, M, G, T)`,
    );
  return bytes;
}
