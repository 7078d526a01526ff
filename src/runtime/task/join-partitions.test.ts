import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import clickAttribution from '../../jobs/click-attribution.ts';
import type { StageDefinition } from '../../sdk/pipeline.ts';
import { PartitionStores } from '../state/partition-stores.ts';
import { checkCopartitioned, joinHomes } from './join-partitions.ts';
import { PartitionRuntime } from './partition-runtime.ts';

const stage = clickAttribution({}).stages[0] as StageDefinition;

describe('join partitions', () => {
  it('refuses sides with different partition counts, naming both topics and what to do', () => {
    assert.doesNotThrow(() =>
      checkCopartitioned(
        stage,
        new Map([
          ['clicks', 12],
          ['impressions', 12],
        ]),
      ),
    );
    assert.throws(
      () =>
        checkCopartitioned(
          stage,
          new Map([
            ['clicks', 12],
            ['impressions', 6],
          ]),
        ),
      (e: Error & { code?: string }) =>
        e.code === 'JOIN_NOT_COPARTITIONED' &&
        /topic impressions \("impressions"\) has 6 partitions and the source topic clicks has 12/.test(
          e.message,
        ),
    );
  });

  it('keeps a join input partition’s state with the source partition of its number', () => {
    const runtime = (topic: string, partition: number) =>
      new PartitionRuntime({ topic, partition }, new PartitionStores());
    const owned = [
      runtime('clicks', 1),
      runtime('clicks', 3),
      runtime('impressions', 1),
      runtime('impressions', 3),
    ];
    const homes = joinHomes(stage, owned);
    assert.deepEqual(
      [...homes].map(([input, home]) => [input.id, home.id]),
      [
        ['impressions/1', 'clicks/1'],
        ['impressions/3', 'clicks/3'],
      ],
    );
    assert.throws(
      () => joinHomes(stage, [runtime('impressions', 2)]),
      /owns impressions\/2 but not clicks\/2/,
    );
  });
});
