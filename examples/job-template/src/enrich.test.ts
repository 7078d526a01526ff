import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestDriver } from '@weir-dev/sdk/testing';
import enrich from './enrich.ts';

describe('orders enriched with the customers table', () => {
  it('joins each order with its customer as the table stands when the order is processed', () => {
    const driver = new TestDriver(enrich({}));
    driver.send({ key: 'ada', value: { customer: 'ada', amount: 3, at: 1 } }); // no customer yet: null
    driver.send({ topic: 'customers', key: 'ada', value: { name: 'Ada', region: 'eu' } });
    driver.send({ key: 'ada', value: { customer: 'ada', amount: 5, at: 2 } });
    driver.send({ topic: 'customers', key: 'ada', value: { name: 'Ada', region: 'us' } }); // she moved
    driver.send({ key: 'ada', value: { customer: 'ada', amount: 7, at: 3 } });
    assert.deepEqual(
      driver
        .output<string, { amount: number; region: string | null }>()
        .map((r) => [r.value.amount, r.value.region]),
      [
        [3, null],
        [5, 'eu'],
        [7, 'us'],
      ],
    );
  });
});
