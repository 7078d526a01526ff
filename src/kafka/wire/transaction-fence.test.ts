import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { TestingBroker } from './testing-broker.ts';
import { fenceTransactionalId } from './transaction-fence.ts';

let broker: TestingBroker | undefined;

afterEach(async () => {
  await broker?.stop();
  broker = undefined;
});

async function fence(initProducerIdErrors: number[], budgetMs = 10_000) {
  broker = await new TestingBroker(1).start();
  broker.initProducerIdErrors = initProducerIdErrors;
  return fenceTransactionalId({
    bootstrapServers: broker.address,
    clientId: 'test',
    security: {},
    transactionalId: 'weir.ns.job.run.0.0',
    transactionTimeoutMs: 60_000,
    budgetMs,
    retryMs: 1,
  });
}

describe('fenceTransactionalId', () => {
  it('asks again while the coordinator still aborts the old transaction, then has fenced it', async () => {
    const result = await fence([51, 51, 51]); // CONCURRENT_TRANSACTIONS three times
    assert.equal(result.fenced, true);
    assert.equal(result.attempts, 4);
    assert.deepEqual(broker?.requests.filter((k) => k === 22).length, 4);
  });

  it('finds the coordinator again when the broker says it moved', async () => {
    const result = await fence([16]); // NOT_COORDINATOR
    assert.equal(result.fenced, true);
    assert.equal(broker?.requests.filter((k) => k === 10).length, 2, 'FindCoordinator asked twice');
  });

  it('leaves anything else to the producer, saying what it was', async () => {
    const result = await fence([53]); // TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    assert.equal(result.fenced, false);
    assert.match(result.fenced ? '' : result.why, /InitProducerId: error 53/);
  });

  it('gives up within its budget, and never throws', async () => {
    const unreachable = await fenceTransactionalId({
      bootstrapServers: '127.0.0.1:1',
      clientId: 'test',
      security: {},
      transactionalId: 't',
      transactionTimeoutMs: 60_000,
      budgetMs: 2_000,
    });
    assert.equal(unreachable.fenced, false);
  });
});
