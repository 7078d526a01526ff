import { CodedError } from '../../errors.ts';

/**
 * Bytes from a broker (or from whatever answers on its port) that do not
 * decode: a length or count past its bounds, a checksum that does not match,
 * a compressed batch that does not inflate within its limit. Never retried:
 * reading the same bytes again gives the same answer. The fetcher adds the
 * broker, topic, partition and offset (record-fetcher.ts).
 */
export class WireFormatError extends CodedError {
  constructor(message: string, code = 'KAFKA_MALFORMED_RESPONSE') {
    super(code, message, false);
  }
}
