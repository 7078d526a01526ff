import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SchemaProps } from './schema.ts';
import { defaultedBySchema } from './schema-defaults.ts';
import { taskManagerDefaults } from './streamjob.ts';
import {
  defaultStateCacheSize,
  defaultStateVolumeSize,
  defaultTaskManagerHeapPercent,
  streamJobSpecSchema,
} from './streamjob-schema.ts';

const schema: SchemaProps = {
  type: 'object',
  description: 'test',
  properties: {
    mode: { type: 'string', description: 'a default', default: 'fast' },
    inner: {
      type: 'object',
      description: 'an object defaulted whole, then inside',
      default: {},
      properties: { size: { type: 'integer', description: 'x', default: 3 } },
    },
    optional: {
      type: 'object',
      description: 'an object without a default',
      properties: { size: { type: 'integer', description: 'x', default: 4 } },
    },
    list: {
      type: 'array',
      description: 'items defaulted',
      items: {
        type: 'object',
        description: 'item',
        properties: { weight: { type: 'integer', description: 'x', default: 1 } },
      },
    },
    map: {
      type: 'object',
      description: 'values defaulted',
      additionalProperties: {
        type: 'object',
        description: 'value',
        properties: { on: { type: 'boolean', description: 'x', default: true } },
      },
    },
  },
};

describe('defaultedBySchema', () => {
  const cases: [string, unknown, unknown][] = [
    ['an empty object', {}, { mode: 'fast', inner: { size: 3 } }],
    ['a value kept', { mode: 'slow', inner: { size: 9 } }, { mode: 'slow', inner: { size: 9 } }],
    [
      'an optional object defaulted inside only when present',
      { optional: {} },
      { mode: 'fast', inner: { size: 3 }, optional: { size: 4 } },
    ],
    [
      'array items',
      { list: [{}, { weight: 5 }] },
      { mode: 'fast', inner: { size: 3 }, list: [{ weight: 1 }, { weight: 5 }] },
    ],
    [
      'map values',
      { map: { a: {}, b: { on: false } } },
      { mode: 'fast', inner: { size: 3 }, map: { a: { on: true }, b: { on: false } } },
    ],
    ['a scalar as it is', 7, 7],
  ];
  for (const [what, value, expected] of cases) {
    it(what, () => assert.deepEqual(defaultedBySchema(schema, value), expected));
  }

  it('leaves its input alone and shares no default object between results', () => {
    const input = {};
    const first = defaultedBySchema(schema, input) as { inner: { size: number } };
    first.inner.size = 100;
    assert.deepEqual(input, {});
    assert.deepEqual(defaultedBySchema(schema, {}), { mode: 'fast', inner: { size: 3 } });
  });

  it('gives the TaskManager settings the operator applies to a job without taskManager (taskManagerDefaults)', () => {
    // What a user who writes `taskManager: {}` gets from the API server must be what the pods of a job without one
    // are made from, or writing it would change the pods (and the operator takes it for no change: spec-diff.ts).
    assert.deepEqual(defaultedBySchema(streamJobSpecSchema.properties.taskManager, {}), taskManagerDefaults);
    assert.deepEqual(taskManagerDefaults, {
      state: { store: 'disk', volumeSize: defaultStateVolumeSize, cacheSize: defaultStateCacheSize },
      heapPercent: defaultTaskManagerHeapPercent,
      terminationGracePeriodSeconds: 30,
    });
  });
});
