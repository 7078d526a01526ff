import { CodedError } from '../errors.ts';

/** How a record key or value is read from and written to Kafka bytes. */
export interface Format<T> {
  readonly name: string;
  decode(bytes: Buffer | null): T;
  encode(value: T): Buffer | null;
}

export class FormatError extends CodedError {
  constructor(message: string) {
    super('RECORD_FORMAT', message, false);
  }
}

export const string: Format<string | null> = {
  name: 'string',
  decode: (bytes) => (bytes === null ? null : bytes.toString('utf8')),
  encode: (value) => (value === null ? null : Buffer.from(value, 'utf8')),
};

export const bytes: Format<Buffer | null> = {
  name: 'bytes',
  decode: (b) => b,
  encode: (b) => b,
};

/** JSON; a record that does not parse is a poison record, handled by the job's policy. */
export function json<T = unknown>(): Format<T | null> {
  return {
    name: 'json',
    decode: (b) => {
      if (b === null) return null;
      try {
        return JSON.parse(b.toString('utf8')) as T;
      } catch (error) {
        throw new FormatError(`not JSON: ${(error as Error).message}`);
      }
    },
    encode: (value) => (value === null ? null : Buffer.from(JSON.stringify(value), 'utf8')),
  };
}

export const formats = { string, bytes, json };
