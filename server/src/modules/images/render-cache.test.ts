import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DecodedImage, Rendered } from '../../dicom/render.js';
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

const image = (bytes: number): DecodedImage => ({
  meta: {} as DecodedImage['meta'], // the cache never looks at the attributes
  frame: { kind: 'grey', rows: 1, columns: bytes / 2, data: new Uint16Array(bytes / 2) },
  averageable: true,
});

test('decoded frames are bounded in bytes, least recently used out first; a frame over half the budget is not kept', () => {
  const cache = new RenderCache(0, 1000);
  cache.frames.set('a', image(400));
  cache.frames.set('b', image(400));
  assert.ok(cache.frames.get('a'));
  cache.frames.set('c', image(400));
  assert.equal(cache.frames.get('b'), undefined, 'b was the least recently used');
  assert.ok(cache.frames.get('a') && cache.frames.get('c'));
  assert.ok(cache.frames.size <= 1000);
  cache.frames.set('huge', image(600));
  assert.equal(cache.frames.get('huge'), undefined);
  cache.frames.set('a', image(200));
  assert.equal(cache.frames.size, 600, 'replacing an entry counts its new size only');
});

test('a frame is counted by the whole buffer it keeps alive', () => {
  const cache = new RenderCache(0, 10_000);
  const file = new ArrayBuffer(4000);
  cache.frames.set('view', { ...image(2), frame: { kind: 'grey', rows: 1, columns: 1, data: new Uint16Array(file, 100, 1) } });
  assert.equal(cache.frames.size, 4000);
});

test('a zero budget keeps nothing', () => {
  const cache = new RenderCache(0, 0);
  cache.set('r', entry(1));
  cache.frames.set('f', image(2));
  assert.equal(cache.get('r'), undefined);
  assert.equal(cache.frames.get('f'), undefined);
});
