import { DicomReadError, type ImageMeta } from './reader.js';

/**
 * DICOM RLE (PS3.5 Annex G) decoded by hand: the npm option (dcmjs-codecs) brings a multi-megabyte
 * wasm bundle for what is sixty lines of PackBits. Output is little-endian, samples interleaved.
 */
export function decodeRle(
  fragment: Uint8Array,
  meta: Pick<ImageMeta, 'rows' | 'columns' | 'samplesPerPixel' | 'bitsAllocated'>,
): Uint8Array {
  if (fragment.length < 64) throw new DicomReadError('the RLE frame is shorter than its 64-byte header');
  const view = new DataView(fragment.buffer, fragment.byteOffset, fragment.length);
  const segments = view.getUint32(0, true);
  const bytesPerSample = meta.bitsAllocated / 8;
  const expected = meta.samplesPerPixel * bytesPerSample;
  if (segments !== expected) throw new DicomReadError(`the RLE frame has ${segments} segments; ${expected} are needed`);
  const pixels = meta.rows * meta.columns;
  const out = new Uint8Array(pixels * expected);
  for (let s = 0; s < segments; s += 1) {
    const start = view.getUint32(4 + s * 4, true);
    const end = s + 1 < segments ? view.getUint32(8 + s * 4, true) : fragment.length;
    if (start < 64 || start > fragment.length || end < start || end > fragment.length)
      throw new DicomReadError(`RLE segment ${s + 1} lies outside the frame`);
    const sample = Math.floor(s / bytesPerSample);
    // Segments run from the most significant byte; little-endian output puts it last.
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample);
    unpackBits(fragment, start, end, out, sample * bytesPerSample + byteInSample, expected, pixels);
  }
  return out;
}

function unpackBits(src: Uint8Array, start: number, end: number, out: Uint8Array, first: number, stride: number, count: number): void {
  let i = start;
  let written = 0;
  let o = first;
  while (i < end && written < count) {
    const header = src[i++];
    if (header < 128) {
      const n = Math.min(header + 1, count - written, end - i);
      for (let k = 0; k < n; k += 1, o += stride) out[o] = src[i + k]!;
      i += header + 1;
      written += n;
    } else if (header > 128) {
      if (i >= end) break;
      const value = src[i++];
      const n = Math.min(257 - header, count - written);
      for (let k = 0; k < n; k += 1, o += stride) out[o] = value;
      written += n;
    }
  }
  if (written < count) throw new DicomReadError(`an RLE segment ends after ${written} of ${count} bytes`);
}
