/**
 * The shape of every Weir error: a stable code to alert and branch on, and
 * whether trying the same thing again can succeed.
 */
export class CodedError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, retriable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.retriable = retriable;
  }
}
