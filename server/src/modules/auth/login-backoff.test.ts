import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffMs } from './login-backoff.js';

test('back-off starts at the threshold with 1 s and doubles up to the cap', () => {
  const cap = 15 * 60_000;
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((failures) => backoffMs(failures, 3, cap)),
    [0, 0, 1000, 2000, 4000, 8000],
  );
  assert.equal(backoffMs(12, 3, cap), 512_000);
  assert.equal(backoffMs(13, 3, cap), cap, '1024 s would pass the 15-minute cap');
  assert.equal(backoffMs(10_000, 3, cap), cap, 'a huge count stays finite and capped');
});
