import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { bytesOf, testPattern, writeFixture, type FixtureImage } from '../../test-support/dicom-fixtures.js';
import { decodeFrame } from './pixels.js';
import { readDicom } from './reader.js';
import { renderFrame, type RenderOptions } from './render.js';

/** Renders a fixture losslessly at original size and returns the 8-bit grey output pixels. */
async function rendered(image: FixtureImage, options: Partial<RenderOptions> = {}) {
  const parsed = readDicom(writeFixture(image));
  const out = await renderFrame(await decodeFrame(parsed), parsed.meta, { size: 'original', format: 'png', ...options });
  assert.equal((await sharp(out.data).metadata()).channels, 1, 'greyscale output has one channel');
  const { data, info } = await sharp(out.data).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width, image.columns);
  return { pixels: Array.from(data), voi: out.voi };
}

const row = (values: number[], bitsStored = 12, extra: Partial<FixtureImage> = {}): FixtureImage => ({
  rows: 1,
  columns: values.length,
  bitsAllocated: 16,
  bitsStored,
  frames: [bytesOf(Uint16Array.from(values))],
  ...extra,
});

describe('VOI and presentation', () => {
  test('linear window (PS3.3 C.11.2.1.2.1) from the file', async () => {
    const { pixels, voi } = await rendered(row([0, 1000, 1500, 2000, 2500, 3000, 4095], 12, { window: { center: 2000, width: 1000 } }));
    assert.equal(voi, 'file-window');
    assert.deepEqual(pixels, [0, 0, 0, 128, 255, 255, 255]);
  });

  test('a requested window overrides the file', async () => {
    const { pixels, voi } = await rendered(row([0, 2048, 4095], 12, { window: { center: 100, width: 10 } }), {
      window: { center: 2048, width: 4096 },
    });
    assert.equal(voi, 'request');
    assert.deepEqual(pixels, [0, 128, 255]);
  });

  test('high bits beyond Bits Stored are masked off', async () => {
    const { pixels } = await rendered(row([0xf000 | 2048, 2048], 12, { window: { center: 2048, width: 4096 } }));
    assert.equal(pixels[0], pixels[1]);
  });

  test('MONOCHROME1 is inverted', async () => {
    const { pixels } = await rendered(row([0, 4095], 12, { window: { center: 2048, width: 4096 }, photometric: 'MONOCHROME1' }));
    assert.deepEqual(pixels, [255, 0]);
  });

  test('signed pixels with a rescale (CT-like): -1024 HU black, 40 HU mid-grey in a 400 HU window', async () => {
    const stored = [-1024, 40, 240].map((hu) => (hu + 1024) & 0xffff); // intercept -1024
    const image = row(stored, 16, { pixelRepresentation: 1, rescale: { slope: 1, intercept: -1024 }, window: { center: 40, width: 400 } });
    const { pixels } = await rendered(image);
    assert.equal(pixels[0], 0);
    assert.ok(Math.abs(pixels[1] - 128) <= 1, `40 HU gave ${pixels[1]}`);
    assert.equal(pixels[2], 255);
    const negative = await rendered(row([0xffff, 0], 16, { pixelRepresentation: 1, window: { center: 0, width: 4 } }));
    assert.ok(negative.pixels[0] < negative.pixels[1], 'stored 0xffff is -1, darker than 0');
  });

  test('SIGMOID window', async () => {
    const { pixels } = await rendered(row([1000, 2000, 3000], 12, { window: { center: 2000, width: 1000, fn: 'SIGMOID' } }));
    assert.ok(Math.abs(pixels[1] - 128) <= 1);
    assert.ok(pixels[0] > 0 && pixels[0] < 10, `${pixels[0]}`); // 255/(1+e^4) ≈ 4.6
    assert.ok(pixels[2] > 245 && pixels[2] < 255, `${pixels[2]}`);
  });

  test('VOI LUT Sequence is applied when there is no window', async () => {
    const lut = Uint16Array.from({ length: 256 }, (_, i) => 255 - i); // an inverting LUT over stored 100..355
    const { pixels, voi } = await rendered(row([0, 100, 355, 4000], 12, { voiLut: { firstMapped: 100, bits: 8, data: lut } }));
    assert.equal(voi, 'voi-lut');
    assert.deepEqual(pixels, [255, 255, 0, 0]);
  });

  test('no window and no LUT: the window comes from the pixels', async () => {
    const { pixels, voi } = await rendered(row([1000, 1500, 2000], 12));
    assert.equal(voi, 'auto');
    assert.equal(pixels[0], 0);
    assert.equal(pixels[2], 255);
  });
});

describe('sizes and formats', () => {
  const big: FixtureImage = { rows: 600, columns: 300, bitsAllocated: 16, bitsStored: 14, frames: [bytesOf(testPattern(600, 300, 14))] };

  test('longest side per size, never enlarged; each format carries its signature', async () => {
    const parsed = readDicom(writeFixture(big));
    const frame = await decodeFrame(parsed);
    const cases = [
      ['thumbnail', 'webp', 256, 128],
      ['small', 'jpeg', 512, 256],
      ['medium', 'png', 600, 300],
      ['original', 'jpeg', 600, 300],
    ] as const;
    for (const [size, format, height, width] of cases) {
      const out = await renderFrame(frame, parsed.meta, { size, format });
      assert.equal(out.height, height, size);
      assert.equal(out.width, width, size);
      const meta = await sharp(out.data).metadata();
      assert.equal(meta.format, format);
      assert.equal(meta.width, width);
    }
  });

  test('colour images render as three channels', async () => {
    const rgb = new Uint8Array(20 * 10 * 3).fill(200);
    const parsed = readDicom(writeFixture({ rows: 10, columns: 20, bitsAllocated: 8, bitsStored: 8, samplesPerPixel: 3, frames: [rgb] }));
    const out = await renderFrame(await decodeFrame(parsed), parsed.meta, { size: 'original', format: 'png' });
    assert.equal(out.voi, 'colour');
    assert.equal((await sharp(out.data).metadata()).channels, 3);
  });
});
