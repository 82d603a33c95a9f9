import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { AppError } from '../../util/errors.js';
import { decodePng } from './png.js';

test('grey 16-bit, grey 8-bit with alpha and RGBA PNGs decode to the right raster', async () => {
  const deep = Buffer.alloc(4 * 3 * 2);
  for (let i = 0; i < 12; i += 1) deep.writeUInt16BE(1000 * i, i * 2);
  const grey16 = await sharp(
    new Uint16Array(12).map((_, i) => 1000 * i),
    { raw: { width: 4, height: 3, channels: 1 } },
  )
    .toColourspace('grey16')
    .png()
    .toBuffer();
  const r16 = await decodePng(grey16);
  assert.equal(r16.depth, 16);
  assert.equal(r16.channels, 1);
  assert.equal(r16.data[11], 11000);

  const greyAlpha = await sharp(Buffer.from([10, 255, 20, 255, 30, 255, 40, 255]), { raw: { width: 2, height: 2, channels: 2 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
  assert.deepEqual([(await sharp(greyAlpha).metadata()).channels, (await sharp(greyAlpha).metadata()).hasAlpha], [2, true]);
  const r8 = await decodePng(greyAlpha);
  assert.deepEqual([r8.channels, r8.depth, Array.from(r8.data)], [1, 8, [10, 20, 30, 40]]);

  const rgba = await sharp(Buffer.alloc(2 * 2 * 4, 200), { raw: { width: 2, height: 2, channels: 4 } })
    .png()
    .toBuffer();
  const rgb = await decodePng(rgba);
  assert.deepEqual([rgb.channels, rgb.depth, rgb.data.length], [3, 8, 12]);
});

test('JPEG, junk and truncated PNGs are INVALID_PNG', async () => {
  const jpeg = await sharp(Buffer.alloc(12, 1), { raw: { width: 2, height: 2, channels: 3 } })
    .jpeg()
    .toBuffer();
  const png = await sharp(Buffer.alloc(3000, 7), { raw: { width: 100, height: 10, channels: 3 } })
    .png()
    .toBuffer();
  for (const bad of [jpeg, Buffer.from('not an image'), png.subarray(0, png.length - 20)]) {
    await assert.rejects(decodePng(bad), (e: unknown) => e instanceof AppError && e.errorName === 'INVALID_PNG');
  }
});
