import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestDriver } from '@weir-dev/sdk/testing';
import revenue from './job.ts';

const hour = 3_600_000;
const order = (id: string, customer: string, amount: number, at: number) => ({
  key: id,
  value: { customer, amount, at },
});

describe('revenue per customer per hour', () => {
  it('sums each customer’s hour once the watermark passes it, updates it for late orders, and sets very late ones aside', () => {
    const driver = new TestDriver(revenue({ late: 'late' }));
    driver.send(order('o1', 'ada', 10, 1_000), order('o2', 'bob', 5, 2_000), order('o3', 'ada', 7, 50_000));
    driver.advanceEventTime(hour); // the first hour is complete
    driver.send(order('o4', 'ada', 3, 3_000)); // late, but within 10 minutes: an update
    driver.advanceEventTime(hour + 11 * 60_000); // past the lateness: the hour's state is gone
    driver.send(order('o5', 'bob', 1, 4_000)); // too late
    assert.deepEqual(
      driver
        .output<string, { start: number; result: number; update: number }>()
        .map((r) => [r.key, r.value.result, r.value.update]),
      [
        ['ada', 17, 0],
        ['bob', 5, 0],
        ['ada', 20, 1],
      ],
    );
    assert.equal(driver.outputOf('late', { key: { decode: String }, value: { decode: String } }).length, 1);
  });
});
