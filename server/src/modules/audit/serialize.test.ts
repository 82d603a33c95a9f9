import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boundedDetail, DETAIL_LIMITS } from './serialize.js';

test('boundedDetail cuts depth, keys, strings and size, marks the cut, and never throws', () => {
  let deep: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < 5000; i++) deep = { a: deep };
  const text = boundedDetail({ value: deep });
  assert.ok(text);
  assert.equal((JSON.parse(text) as { truncated: boolean }).truncated, true);
  assert.ok(text.length <= DETAIL_LIMITS.maxChars);

  const cyclic: Record<string, unknown> = { name: 'x' };
  cyclic.self = cyclic;
  const wide = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, 'v'.repeat(5000)]));
  for (const value of [cyclic, wide, { n: 10n, f: () => 1, inf: Infinity }]) {
    const out = boundedDetail(value);
    assert.ok(out && out.length <= DETAIL_LIMITS.maxChars);
    assert.doesNotThrow(() => JSON.parse(out));
  }
  assert.deepEqual(JSON.parse(boundedDetail({ value: 'plain', n: 1 }) ?? ''), { value: 'plain', n: 1 });
  assert.equal(boundedDetail(undefined), null);
});
