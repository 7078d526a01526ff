import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventReasons } from './events.ts';

describe('the Event vocabulary', () => {
  it('names each reason once, in Kubernetes’ UpperCamelCase', () => {
    assert.equal(new Set(eventReasons).size, eventReasons.length);
    for (const reason of eventReasons) assert.match(reason, /^[A-Z][A-Za-z]+$/);
  });
});
