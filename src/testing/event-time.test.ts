import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pageViews from '../jobs/page-views.ts';
import {
  hopping,
  json,
  Pipeline,
  session,
  string,
  tumbling,
  valueState,
  type WindowResult,
} from '../sdk/index.ts';
import { TestDriver } from './index.ts';

const minute = 60_000;
const view = (user: string, time: number) => ({ key: `s-${user}`, value: { user, page: '/', time } });
type UserMinute = { user: string; views: number; timeSum: number };

function results(driver: TestDriver) {
  return driver
    .output<string, WindowResult<UserMinute>>()
    .map(({ key, value }) => [key, value.start / minute, value.result.views, value.update]);
}

describe('event time through the test driver', () => {
  it('tumbling windows emit each user-minute once, when the watermark passes the window end', () => {
    const driver = new TestDriver(pageViews({ outOfOrdernessMs: 5_000 }));
    driver.send(view('ann', 10_000), view('bob', 20_000), view('ann', 59_000));
    assert.deepEqual(results(driver), [], 'nothing before the watermark reaches the end of minute 0');
    driver.send(view('ann', 64_000)); // watermark 64 s − 5 s − 1 ms: still inside minute 0's bound
    assert.deepEqual(results(driver), []);
    driver.send(view('bob', 65_001)); // watermark 59.999 s: minute 0 is complete
    assert.deepEqual(results(driver), [
      ['ann', 0, 2, 0],
      ['bob', 0, 1, 0],
    ]);
    driver.advanceEventTime(2 * minute);
    assert.deepEqual(results(driver).slice(2), [
      ['ann', 1, 1, 0],
      ['bob', 1, 1, 0],
    ]);
  });

  it('accepts out-of-order records within the bound, and sends records later than that to the late topic', () => {
    const driver = new TestDriver(pageViews({ outOfOrdernessMs: 5_000, late: 'late-views' }));
    driver.send(view('ann', 62_000), view('ann', 58_000)); // 4 s out of order: in time for minute 0
    driver.send(view('ann', 70_000)); // watermark 64.999 s: minute 0 fires with both views
    assert.deepEqual(results(driver), [['ann', 0, 1, 0]]);
    driver.send(view('ann', 30_000)); // minute 0 is done: late
    const late = driver.outputOf<string, { time: number }>('late-views', { key: string, value: json() });
    assert.deepEqual(
      late.map((r) => r.value.time),
      [30_000],
    );
    assert.deepEqual(results(driver), [['ann', 0, 1, 0]], 'a late record changes no result');
  });

  it('with allowed lateness, a late record updates its window once more and only then is state removed', () => {
    const driver = new TestDriver(pageViews({ outOfOrdernessMs: 0, latenessMs: 30_000, late: 'late-views' }));
    driver.send(view('ann', 10_000), view('ann', 61_000)); // minute 0 fires
    driver.send(view('ann', 20_000)); // within lateness: update 1
    driver.send(view('ann', 95_000)); // watermark 94.999 s > 59.999 + 30: minute 0's state is gone
    driver.send(view('ann', 25_000)); // now late
    assert.deepEqual(results(driver), [
      ['ann', 0, 1, 0],
      ['ann', 0, 2, 1],
    ]);
    assert.equal(driver.outputOf('late-views', { key: string, value: json() }).length, 1);
  });

  it('an idle partition does not hold the watermark back once its idle timeout passed', () => {
    const driver = new TestDriver(pageViews({ outOfOrdernessMs: 0, idleMs: 1_000 }));
    driver.send({ ...view('ann', 10_000), partition: 0 }, { ...view('bob', 10_000), partition: 1 });
    driver.send({ ...view('ann', 70_000), partition: 0 });
    assert.deepEqual(results(driver), [], 'partition 1 holds minute 0 open');
    driver.advanceProcessingTime(5_000);
    driver.send({ ...view('ann', 71_000), partition: 0 });
    assert.deepEqual(results(driver), [
      ['ann', 0, 1, 0],
      ['bob', 0, 1, 0],
    ]);
  });

  it('hopping windows put a record in size/slide windows', () => {
    const job = Pipeline.from('in', {
      topics: ['in'],
      key: string,
      value: string,
      watermarks: { maxOutOfOrdernessMs: 0 },
    })
      .window('hop', hopping(30_000, 10_000), (_key, _window, records) => records.length, {
        lateRecords: { topic: 'late', key: string, value: string },
      })
      .to('out', { topic: 'out', key: string, value: json<WindowResult<number>>() });
    const driver = new TestDriver(job).send({ key: 'k', value: 'a', timestamp: 25_000 });
    driver.advanceEventTime(100_000);
    assert.deepEqual(
      driver.output<string, WindowResult<number>>().map((r) => [r.value.start, r.value.end, r.value.result]),
      [
        [0, 30_000, 1],
        [10_000, 40_000, 1],
        [20_000, 50_000, 1],
      ],
    );
  });

  it('session windows merge when a record bridges two sessions', () => {
    const job = Pipeline.from('in', {
      topics: ['in'],
      key: string,
      value: string,
      watermarks: { maxOutOfOrdernessMs: 60_000 },
    })
      .window(
        'sessions',
        session(10_000),
        {
          create: () => [] as string[],
          add: (acc: string[], r) => [...acc, r.value ?? ''],
          merge: (a: string[], b: string[]) => [...a, ...b].sort(),
          result: (acc: string[]) => [...acc].sort().join(''),
        },
        { lateRecords: { topic: 'late', key: string, value: string } },
      )
      .to('out', { topic: 'out', key: string, value: json<WindowResult<string>>() });
    const driver = new TestDriver(job).send(
      { key: 'k', value: 'a', timestamp: 0 },
      { key: 'k', value: 'c', timestamp: 18_000 },
      { key: 'k', value: 'b', timestamp: 9_000 }, // bridges [0,10s) and [18s,28s)
      { key: 'k', value: 'd', timestamp: 50_000 },
    );
    driver.advanceEventTime(200_000);
    assert.deepEqual(
      driver.output<string, WindowResult<string>>().map((r) => [r.value.start, r.value.end, r.value.result]),
      [
        [0, 28_000, 'abc'],
        [50_000, 60_000, 'd'],
      ],
    );
  });

  it('keyed process functions set event-time and processing-time timers, restored with the state', () => {
    const job = Pipeline.from('in', {
      topics: ['in'],
      key: string,
      value: string,
      watermarks: { maxOutOfOrdernessMs: 0 },
    })
      .process('remind', {
        state: { seen: valueState<number>() },
        process(r, state, _emit, timers) {
          state.seen.set((state.seen.get() ?? 0) + 1);
          timers.eventTime(r.timestamp + 1_000);
          timers.processingTime(timers.now + 500);
        },
        onTimer(timer, state, emit) {
          emit({
            key: timer.key,
            value: `${timer.domain}@${timer.time}:${state.seen.get()}`,
            timestamp: timer.time,
          });
        },
      })
      .to('out', { topic: 'out', key: string, value: string });
    const first = new TestDriver(job, { startTime: 100 }).send({ key: 'k', value: 'x', timestamp: 5_000 });
    assert.deepEqual(first.output(), []);
    const restored = TestDriver.restore(job, first.snapshot(), { startTime: 100 });
    restored.advanceProcessingTime(600);
    assert.deepEqual(
      restored.output().map((r) => r.value),
      ['processing@600:1'],
    );
    restored.advanceEventTime(6_000);
    assert.deepEqual(
      restored.output().map((r) => r.value),
      ['processing@600:1', 'event@6000:1'],
    );
    restored.advanceEventTime(60_000);
    assert.equal(restored.output().length, 2, 'a timer fires once');
  });

  it('refuses a window without event time on the source, or without a late-records topic', () => {
    assert.throws(
      () =>
        Pipeline.from('in', { topics: ['in'], key: string, value: string }).window(
          'w',
          tumbling(1000),
          () => 0,
          { lateRecords: { topic: 'late', key: string, value: string } },
        ),
      /window "w" needs event time/,
    );
    assert.throws(() => tumbling(0), /positive whole number/);
    assert.throws(() => hopping(1000, 300), /multiple of its slide/);
  });
});

describe('timers without a handler', () => {
  it('fail the record that sets one, naming the step, instead of keeping a timer nothing fires', () => {
    const job = Pipeline.from('in', { topics: ['in'], key: string, value: string })
      .process('forgetful', {
        state: {},
        process(r, _state, emit, timers) {
          timers.eventTime(r.timestamp + 1);
          emit(r);
        },
      })
      .to('out', { topic: 'out', key: string, value: string });
    assert.throws(
      () => new TestDriver(job).send({ key: 'k', value: 'v' }),
      /"forgetful" set a timer but has no onTimer\(\)/,
    );
  });
});
