import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OffsetResetReport } from '../../api/control-api.ts';
import { offsetResetEvents } from './offset-resets.ts';

const reset = (at: string, over: Partial<OffsetResetReport> = {}): OffsetResetReport => ({
  topic: 'orders',
  partition: 2,
  from: 900,
  to: 1200,
  policy: 'earliest',
  reason: 'out-of-range',
  at: new Date(at),
  ...over,
});

describe('offsetResetEvents', () => {
  const cases: {
    name: string;
    announced?: string;
    reports: { stage?: number; task: number; offsetResets?: OffsetResetReport[] }[];
    messages: string[];
    mark: string | undefined;
  }[] = [
    { name: 'no resets: nothing', reports: [{ task: 0 }], messages: [], mark: undefined },
    {
      name: 'a reset past the log start: what was skipped',
      reports: [{ task: 3, offsetResets: [reset('2026-12-06T10:00:00Z')] }],
      messages: [
        "task 3: orders/2 offset 900 was outside the partition's log; reading from the earliest offset 1200, 300 offsets skipped (spec.kafka.offsetOutOfRange: earliest)",
      ],
      mark: '2026-12-06T10:00:00.000Z',
    },
    {
      name: 'a truncated log, in a later stage',
      reports: [
        {
          stage: 1,
          task: 0,
          offsetResets: [
            reset('2026-12-06T10:00:00Z', { reason: 'truncated', from: 50, to: 40, policy: 'latest' }),
          ],
        },
      ],
      messages: [
        'task 0 of stage 1: orders/2 was truncated under its position 50 (an unclean leader election); reading on from 40, where the log diverged (spec.kafka.offsetOutOfRange: latest)',
      ],
      mark: '2026-12-06T10:00:00.000Z',
    },
    {
      name: 'reported again on the next poll: announced once',
      announced: '2026-12-06T10:00:00.000Z',
      reports: [{ task: 3, offsetResets: [reset('2026-12-06T10:00:00Z')] }],
      messages: [],
      mark: '2026-12-06T10:00:00.000Z',
    },
    {
      name: 'only the new one of two, oldest first across tasks',
      announced: '2026-12-06T10:00:00.000Z',
      reports: [
        {
          task: 0,
          offsetResets: [reset('2026-12-06T10:00:00Z'), reset('2026-12-06T10:02:00Z', { partition: 5 })],
        },
        { task: 1, offsetResets: [reset('2026-12-06T10:01:00Z', { partition: 7, from: 10, to: 4 })] },
      ],
      messages: [
        "task 1: orders/7 offset 10 was outside the partition's log; reading from the earliest offset 4, 6 offsets read again (spec.kafka.offsetOutOfRange: earliest)",
        "task 0: orders/5 offset 900 was outside the partition's log; reading from the earliest offset 1200, 300 offsets skipped (spec.kafka.offsetOutOfRange: earliest)",
      ],
      mark: '2026-12-06T10:02:00.000Z',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { events, announcedUpTo } = offsetResetEvents(c.announced, c.reports);
      assert.deepEqual(
        events.map((e) => e.message),
        c.messages,
      );
      for (const e of events) assert.deepEqual([e.type, e.reason], ['Warning', 'OffsetReset']);
      assert.equal(announcedUpTo, c.mark);
    });
  }

  it('many at once: five one by one, the rest in one event', () => {
    const resets = Array.from({ length: 8 }, (_, i) => reset(`2026-12-06T10:00:0${i}Z`, { partition: i }));
    const { events, announcedUpTo } = offsetResetEvents(undefined, [{ task: 0, offsetResets: resets }]);
    assert.equal(events.length, 6);
    assert.match(events[5]?.message ?? '', /^3 more partitions were moved by spec\.kafka\.offsetOutOfRange/);
    assert.equal(announcedUpTo, '2026-12-06T10:00:07.000Z');
  });
});
