import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KafkaError } from '../kafka/kafka-error.ts';
import { fencedTaskError } from './errors.ts';

describe('fencedTaskError', () => {
  it('names a fenced task a zombie that exits, keeping librdkafka’s words', () => {
    const fenced = new KafkaError('commitTransaction', 'Producer fenced by newer instance', {
      kafkaCode: -144,
      retriable: false,
      fatal: true,
      abortable: false,
      code: 'KAFKA_FENCED',
    });
    const error = fencedTaskError(3, fenced);
    assert.equal(error?.code, 'TASK_FENCED');
    assert.equal(error?.retriable, false);
    assert.match(
      error?.message ?? '',
      /^task 3 was fenced: .*zombie whose replacement already runs; it commits nothing more and exits \(commitTransaction: Producer fenced by newer instance\)$/,
    );
    assert.equal(error?.cause, fenced);
  });

  it('leaves every other failure as it is', () => {
    assert.equal(fencedTaskError(0, Object.assign(new Error('x'), { code: 'KAFKA_TIMED_OUT' })), undefined);
    assert.equal(fencedTaskError(0, new Error('plain')), undefined);
    assert.equal(fencedTaskError(0, undefined), undefined);
  });
});
