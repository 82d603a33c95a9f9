import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { test } from 'node:test';
import { AppError } from '../util/errors.js';
import { assertDecodedSize, DEFAULT_PICTURE_LIMITS, inspectPicture } from './picture-limits.js';

/** A PNG signature and IHDR claiming `width` × `height` (then one tiny IDAT): a header with no pixels behind it. */
function pngHeader(width: number, height: number, bitDepth: number, colourType: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const byte of b) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colourType;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(16)))]);
}

const tooLarge = (pattern: RegExp) => (e: unknown) =>
  e instanceof AppError && e.errorName === 'PICTURE_TOO_LARGE' && pattern.test(JSON.stringify(e.details));

test('a PNG header claiming 100000 × 100000 is refused from the header alone', async () => {
  await assert.rejects(inspectPicture(pngHeader(100_000, 100_000, 8, 2), DEFAULT_PICTURE_LIMITS), tooLarge(/upload\.max_pixels/));
});

test('16-bit grey counts two bytes a sample; RGB three samples; within both limits the header is returned', async () => {
  // 5000 × 5000 = 25 MP (at the pixel limit): 16-bit grey is 50 MB (admitted), RGB 75 MB (over 64 MiB).
  const grey16 = await inspectPicture(pngHeader(5000, 5000, 16, 0), DEFAULT_PICTURE_LIMITS);
  assert.deepEqual([grey16.channels, grey16.bytesPerSample, grey16.decodedBytes], [1, 2, 50_000_000]);
  await assert.rejects(inspectPicture(pngHeader(5000, 5000, 8, 2), DEFAULT_PICTURE_LIMITS), tooLarge(/upload\.max_decoded_bytes/));
  await assert.rejects(
    inspectPicture(Buffer.from('no picture'), DEFAULT_PICTURE_LIMITS),
    (e: unknown) => e instanceof AppError && e.errorName === 'INVALID_PNG',
  );
});

test('a DICOM shape counts its frames', () => {
  const limits = { maxPixels: 25_000_000, maxDecodedBytes: 64 * 1024 * 1024 };
  assert.equal(assertDecodedSize({ width: 3000, height: 3000, channels: 1, bytesPerSample: 2 }, limits), 18_000_000);
  assert.throws(
    () => assertDecodedSize({ width: 3000, height: 3000, channels: 1, bytesPerSample: 2, frames: 4 }, limits),
    tooLarge(/4 frames/),
  );
});
