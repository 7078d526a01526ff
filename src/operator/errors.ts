import { CodedError } from '../errors.ts';

/** An operator failure; the work queue retries it only when retriable. */
export class OperatorError extends CodedError {}

export function httpStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}
