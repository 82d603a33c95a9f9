import assert from 'node:assert/strict';
import { test } from 'node:test';
import { indexingWait } from './ingest.js';

test('indexing waits for the sender to pause, but never more than 2 s behind it or 1,000 objects', () => {
  const now = 1_000_000;
  const state = { now, lastReceivedAt: now - 10, oldestQueuedAt: now - 300, queued: 40, draining: false };
  assert.equal(indexingWait(state), 40, 'a burst in progress: until 50 ms after its last object');
  assert.equal(indexingWait({ ...state, lastReceivedAt: now - 50 }), 0, 'quiet for 50 ms: now');
  assert.equal(
    indexingWait({ ...state, oldestQueuedAt: now - 1_990 }),
    10,
    'a sender that does not pause: the oldest object is indexed 2 s after it came',
  );
  assert.equal(indexingWait({ ...state, oldestQueuedAt: now - 2_500 }), 0);
  assert.equal(indexingWait({ ...state, queued: 1_000 }), 0, 'a backlog of 1,000: now');
  assert.equal(indexingWait({ ...state, draining: true }), 0, 'a drain does not wait');
});
