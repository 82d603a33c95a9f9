import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Rendered } from '../../dicom/render.js';
import { RenderCache } from './render-cache.js';

const entry = (bytes: number): Rendered => ({ data: Buffer.alloc(bytes), contentType: 'image/jpeg', width: 1, height: 1, voi: 'auto' });

test('evicts the least recently used entries past the byte budget', () => {
  const cache = new RenderCache(900);
  cache.set('a', entry(200));
  cache.set('b', entry(200));
  cache.set('c', entry(200));
  assert.ok(cache.get('a'), 'a is used again, so b is now the oldest');
  cache.set('d', entry(200));
  cache.set('e', entry(200));
  assert.equal(cache.get('b'), undefined);
  assert.ok(cache.get('a') && cache.get('c') && cache.get('d') && cache.get('e'));
  cache.set('huge', entry(600));
  assert.equal(cache.get('huge'), undefined, 'an entry over a quarter of the budget is not kept');
  assert.equal(cache.misses, 2);
});
