import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { bytesOf, writeFixture, type FixtureImage } from '../../test-support/dicom-fixtures.js';
import { decodeFrame } from './pixels.js';
import { readDicom } from './reader.js';
import { describeFrame, greyLut, renderDecoded, type DecodedImage } from './render.js';
import { boxShrink } from './shrink.js';

describe('box shrink', () => {
  test('each output pixel is the rounded mean of its block, in the input sample type', () => {
    // 4 × 3, k = 2: the right column and bottom row are partial blocks.
    const data = Uint16Array.from([0, 2, 10, 7, 4, 6, 20, 9, 1, 1, 1000, 1]);
    const out = boxShrink(data, 3, 4, 2);
    assert.ok(out.data instanceof Uint16Array);
    assert.deepEqual([out.rows, out.columns], [2, 2]);
    assert.deepEqual(Array.from(out.data), [3, 12, 1, 501]); // (0+2+4+6)/4, (10+7+20+9)/4 = 11.5 → 12, (1+1)/2, (1000+1)/2 = 500.5 → 501
    const bytes = boxShrink(Uint8Array.from([255, 255, 254, 255]), 2, 2, 2);
    assert.ok(bytes.data instanceof Uint8Array);
    assert.deepEqual(Array.from(bytes.data), [255]);
  });

  test('k = 1 copies; a fractional or zero factor is refused', () => {
    const data = Uint16Array.from([1, 2, 3, 4]);
    assert.deepEqual(Array.from(boxShrink(data, 2, 2, 1).data), [1, 2, 3, 4]);
    assert.throws(() => boxShrink(data, 2, 2, 1.5), RangeError);
    assert.throws(() => boxShrink(data, 2, 2, 0), RangeError);
  });
});

/** A smooth 12-bit pattern with some noise: 512 rows × 1024 columns. */
function smooth(rows = 512, columns = 1024): Uint16Array {
  const data = new Uint16Array(rows * columns);
  let seed = 7;
  for (let y = 0; y < rows; y += 1) {
    for (let x = 0; x < columns; x += 1) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      data[y * columns + x] = Math.round(500 + 2500 * (x / columns) + 400 * Math.sin(y / 30) + (seed >>> 26));
    }
  }
  return data;
}

async function decoded(image: FixtureImage): Promise<DecodedImage> {
  const parsed = readDicom(writeFixture(image));
  return describeFrame(await decodeFrame(parsed), parsed.meta);
}

async function greyPixels(image: DecodedImage, window?: { center: number; width: number }) {
  const out = await renderDecoded(image, { size: 'thumbnail', format: 'png', window });
  const { data, info } = await sharp(out.data).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return { pixels: data, width: info.width, height: info.height };
}

const fixture = (extra: Partial<FixtureImage> = {}): FixtureImage => ({
  rows: 512,
  columns: 1024,
  bitsAllocated: 16,
  bitsStored: 12,
  frames: [bytesOf(smooth())],
  ...extra,
});

describe('shrinking before the lookup table', () => {
  test('equals windowing first and then averaging, within a grey level, where the window does not clip', async () => {
    const image = await decoded(fixture({ window: { center: 2000, width: 4000 } }));
    assert.equal(image.averageable, true);
    // 1024 → 256: k = 4, no reduction left for sharp, so the two orders differ only in rounding.
    const shrunkFirst = await greyPixels(image);
    assert.deepEqual([shrunkFirst.width, shrunkFirst.height], [256, 128]);
    const frame = image.frame as Extract<DecodedImage['frame'], { kind: 'grey' }>;
    const { lut } = greyLut(image.meta, frame);
    const windowedFirst = boxShrink(
      Uint8Array.from(frame.data, (v) => lut[v]),
      512,
      1024,
      4,
    );
    let worst = 0;
    for (let i = 0; i < windowedFirst.data.length; i += 1) worst = Math.max(worst, Math.abs(windowedFirst.data[i] - shrunkFirst.pixels[i]));
    assert.ok(worst <= 1, `largest difference ${worst} grey levels`);
  });

  test('the remaining reduction after a whole-factor shrink keeps the edge and the aspect', async () => {
    const image = await decoded(fixture({ rows: 300, columns: 700, frames: [bytesOf(smooth(300, 700))] }));
    const out = await renderDecoded(image, { size: 'thumbnail', format: 'jpeg' });
    assert.deepEqual([out.width, out.height], [256, 110]);
  });

  test('MONOCHROME1 is inverted on the shrinking path', async () => {
    const window = { center: 2000, width: 4000 };
    const normal = await greyPixels(await decoded(fixture({ window })));
    const inverted = await greyPixels(await decoded(fixture({ window, photometric: 'MONOCHROME1' })));
    for (let i = 0; i < normal.pixels.length; i += 1) assert.ok(Math.abs(255 - normal.pixels[i] - inverted.pixels[i]) <= 1, `pixel ${i}`);
  });

  test('rescale slope and intercept apply to the averaged values', async () => {
    // Left half stored 1000, right half 3000; modality = 2 × stored − 1000: 1000 and 5000.
    const data = new Uint16Array(512 * 1024).map((_, i) => (i % 1024 < 512 ? 1000 : 3000));
    const image = await decoded(fixture({ frames: [bytesOf(data)], bitsStored: 16, rescale: { slope: 2, intercept: -1000 } }));
    assert.equal(image.averageable, true);
    const { pixels, width } = await greyPixels(image, { center: 3000, width: 8001 });
    const expected = (m: number) => Math.round(((m - 2999.5) / 8000 + 0.5) * 255);
    assert.equal(pixels[0], expected(1000));
    assert.equal(pixels[width - 1], expected(5000));
  });

  test('bits above Bits Stored turn the shrink off and are still masked', async () => {
    const clean = smooth();
    const dirty = clean.map((v, i) => (i % 3 === 0 ? v | 0xf000 : v));
    const window = { center: 2000, width: 4000 };
    const dirtyImage = await decoded(fixture({ frames: [bytesOf(dirty)], window }));
    assert.equal(dirtyImage.averageable, false);
    const a = await greyPixels(dirtyImage);
    const b = await greyPixels(await decoded(fixture({ window })));
    let worst = 0;
    for (let i = 0; i < a.pixels.length; i += 1) worst = Math.max(worst, Math.abs(a.pixels[i] - b.pixels[i]));
    assert.ok(worst <= 3, `largest difference ${worst} grey levels (Lanczos against box)`);
  });

  test('signed pixels are windowed before any shrink', async () => {
    const data = new Uint16Array(512 * 1024).map((_, i) => (i % 1024 < 512 ? 0xffff : 1)); // −1 and 1
    const image = await decoded(fixture({ frames: [bytesOf(data)], bitsStored: 16, pixelRepresentation: 1 }));
    assert.equal(image.averageable, false);
    const { pixels, width } = await greyPixels(image, { center: 0, width: 4 });
    assert.ok(pixels[0] < pixels[width - 1], 'stored 0xffff is −1, darker than 1');
  });
});
