import dicomParser from 'dicom-parser';
import { decodeLosslessJpeg, wasmDecode, type WasmCodecName } from './codecs.js';
import { DicomReadError, TRANSFER_SYNTAX as TS, UnsupportedTransferSyntaxError, type ImageMeta, type ParsedDicom } from './reader.js';
import { decodeRle } from './rle.js';

/**
 * One decoded frame. Greyscale frames keep the stored bit patterns (unsigned views of 8 or 16
 * bits, unused high bits not yet masked): the renderer's lookup table masks, sign-extends,
 * rescales and windows in one pass. Colour frames are 8-bit RGB, interleaved.
 */
export type Frame =
  | { kind: 'grey'; rows: number; columns: number; data: Uint8Array | Uint16Array }
  | { kind: 'rgb'; rows: number; columns: number; data: Uint8Array };

const WASM_CODECS: Partial<Record<string, WasmCodecName>> = {
  [TS.JPEG_BASELINE]: 'libjpeg',
  [TS.JPEG_LS_LOSSLESS]: 'charls',
  [TS.JPEG_LS_NEAR]: 'charls',
  [TS.J2K_LOSSLESS]: 'openjpeg',
  [TS.J2K]: 'openjpeg',
  [TS.HTJ2K_LOSSLESS]: 'openjph',
  [TS.HTJ2K_LOSSLESS_RPCL]: 'openjph',
  [TS.HTJ2K]: 'openjph',
};
const NATIVE: string[] = [TS.IMPLICIT_LE, TS.EXPLICIT_LE, TS.DEFLATED_LE, TS.EXPLICIT_BE];
const COLOUR = new Set(['RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_RCT', 'YBR_ICT', 'YBR_PARTIAL_420']);

/** The compressed bytes of one frame, whatever the fragment layout. */
function encapsulatedFrame(parsed: ParsedDicom, index: number): Uint8Array {
  const element = parsed.pixelData!;
  const fragments = element.fragments ?? [];
  if (fragments.length === 0) throw new DicomReadError('the encapsulated pixel data has no fragments');
  const frames = parsed.meta.numberOfFrames;
  if (element.basicOffsetTable?.length) return dicomParser.readEncapsulatedImageFrame(parsed.dataSet, element, index);
  if (frames === 1) return dicomParser.readEncapsulatedPixelDataFromFragments(parsed.dataSet, element, 0, fragments.length);
  if (fragments.length === frames) return dicomParser.readEncapsulatedPixelDataFromFragments(parsed.dataSet, element, index, 1);
  const table = dicomParser.createJPEGBasicOffsetTable(parsed.dataSet, element);
  return dicomParser.readEncapsulatedImageFrame(parsed.dataSet, element, index, table);
}

function bytesPerFrame(meta: ImageMeta): number {
  return Math.ceil((meta.rows * meta.columns * meta.samplesPerPixel * meta.bitsAllocated) / 8);
}

/** Uncompressed frame bytes as a view when the data sits aligned, else a copy (byte-swapped for big endian). */
function nativeSamples(parsed: ParsedDicom, index: number): Uint8Array | Uint16Array {
  const { meta, dataSet } = parsed;
  const element = parsed.pixelData!;
  const size = bytesPerFrame(meta);
  const start = element.dataOffset + size * index;
  if (element.length < size * (index + 1) || start + size > dataSet.byteArray.length) {
    throw new DicomReadError(`the pixel data holds ${element.length} bytes; frame ${index + 1} needs ${size * (index + 1)}`);
  }
  const bytes = dataSet.byteArray;
  if (meta.bitsAllocated === 8) return new Uint8Array(bytes.buffer, bytes.byteOffset + start, size);
  const count = size / 2;
  const absolute = bytes.byteOffset + start;
  if (parsed.littleEndian && absolute % 2 === 0) return new Uint16Array(bytes.buffer, absolute, count);
  const out = new Uint16Array(count);
  const view = new DataView(bytes.buffer, absolute, size);
  for (let i = 0; i < count; i += 1) out[i] = view.getUint16(i * 2, parsed.littleEndian);
  return out;
}

function asSamples(bytes: Uint8Array, bitsAllocated: number): Uint8Array | Uint16Array {
  if (bitsAllocated <= 8) return bytes;
  if (bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length >> 1);
  return new Uint16Array(bytes.slice().buffer);
}

const clamp8 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/** Colour samples to interleaved 8-bit RGB: planar layout, YBR_FULL and 4:2:2 are converted here. */
function toRgb(meta: ImageMeta, samples: Uint8Array | Uint16Array, photometric: string, planar: number): Uint8Array {
  const pixels = meta.rows * meta.columns;
  const shift = Math.max(0, meta.bitsStored - 8);
  if (photometric === 'YBR_FULL_422' && samples.length === pixels * 2) {
    const out = new Uint8Array(pixels * 3);
    for (let p = 0, s = 0; p + 1 < pixels + 1 && s + 3 < samples.length; p += 2, s += 4) {
      const cb = samples[s + 2] - 128;
      const cr = samples[s + 3] - 128;
      for (const [k, y] of [
        [p, samples[s]],
        [p + 1, samples[s + 1]],
      ] as const) {
        out[k * 3] = clamp8(y + 1.402 * cr);
        out[k * 3 + 1] = clamp8(y - 0.344136 * cb - 0.714136 * cr);
        out[k * 3 + 2] = clamp8(y + 1.772 * cb);
      }
    }
    return out;
  }
  if (samples.length < pixels * 3) throw new DicomReadError(`colour pixel data is short: ${samples.length} samples for ${pixels} pixels`);
  const out = new Uint8Array(pixels * 3);
  const at =
    planar === 1 ? (p: number, c: number) => samples[c * pixels + p] >> shift : (p: number, c: number) => samples[p * 3 + c] >> shift;
  const ybr = photometric === 'YBR_FULL' || photometric === 'YBR_FULL_422';
  for (let p = 0; p < pixels; p += 1) {
    const a = at(p, 0),
      b = at(p, 1),
      c = at(p, 2);
    if (ybr) {
      out[p * 3] = clamp8(a + 1.402 * (c - 128));
      out[p * 3 + 1] = clamp8(a - 0.344136 * (b - 128) - 0.714136 * (c - 128));
      out[p * 3 + 2] = clamp8(a + 1.772 * (b - 128));
    } else {
      out[p * 3] = a;
      out[p * 3 + 1] = b;
      out[p * 3 + 2] = c;
    }
  }
  return out;
}

/**
 * Decodes frame `index` (0-based) of a parsed file. Throws DicomReadError for damaged data and
 * UnsupportedTransferSyntaxError for syntaxes no codec here handles.
 */
export async function decodeFrame(parsed: ParsedDicom, index = 0): Promise<Frame> {
  const { meta } = parsed;
  if (!parsed.pixelData) throw new DicomReadError('the object has no pixel data');
  if (index < 0 || index >= meta.numberOfFrames)
    throw new DicomReadError(`frame ${index + 1} does not exist (${meta.numberOfFrames} frames)`);
  if (meta.bitsAllocated !== 8 && meta.bitsAllocated !== 16) {
    throw new UnsupportedTransferSyntaxError(`images with ${meta.bitsAllocated} bits allocated cannot be rendered`);
  }
  const colour = meta.samplesPerPixel === 3;
  if (!colour && meta.samplesPerPixel !== 1)
    throw new UnsupportedTransferSyntaxError(`${meta.samplesPerPixel} samples per pixel cannot be rendered`);
  if (colour && !COLOUR.has(meta.photometric))
    throw new UnsupportedTransferSyntaxError(`photometric interpretation ${meta.photometric} cannot be rendered`);
  if (!colour && meta.photometric === 'PALETTE COLOR')
    throw new UnsupportedTransferSyntaxError('palette colour images cannot be rendered yet');

  const ts = meta.transferSyntaxUid;
  const wasmCodec = WASM_CODECS[ts];
  let samples: Uint8Array | Uint16Array;
  let photometric = meta.photometric;
  let planar = meta.planarConfiguration;
  try {
    if (NATIVE.includes(ts)) {
      if (parsed.pixelData.encapsulatedPixelData)
        throw new DicomReadError('pixel data is encapsulated but the transfer syntax is uncompressed');
      samples = nativeSamples(parsed, index);
    } else if (ts === TS.RLE) {
      samples = asSamples(decodeRle(encapsulatedFrame(parsed, index), meta), meta.bitsAllocated);
      planar = 0; // the RLE decoder interleaves
    } else if (ts === TS.JPEG_LOSSLESS || ts === TS.JPEG_LOSSLESS_SV1) {
      samples = decodeLosslessJpeg(encapsulatedFrame(parsed, index), meta.bitsAllocated <= 8 ? 1 : 2);
      planar = 0;
    } else if (wasmCodec) {
      const { bytes, info } = await wasmDecode(wasmCodec, encapsulatedFrame(parsed, index));
      if (info.width !== meta.columns || info.height !== meta.rows) {
        throw new DicomReadError(`the compressed frame is ${info.width}×${info.height}, the header says ${meta.columns}×${meta.rows}`);
      }
      samples = asSamples(bytes, info.bitsPerSample > 8 ? 16 : 8);
      planar = 0;
      // libjpeg-turbo and the JPEG 2000 decoders apply the colour transform: their output is RGB.
      if (colour) photometric = 'RGB';
    } else {
      throw new UnsupportedTransferSyntaxError(
        `transfer syntax ${ts || '(none)'} cannot be decoded here (12-bit JPEG and private syntaxes are not supported)`,
      );
    }
  } catch (error) {
    if (error instanceof DicomReadError) throw error;
    throw new DicomReadError(`the pixel data cannot be decoded: ${error instanceof Error ? error.message : String(error)}`);
  }

  const pixels = meta.rows * meta.columns;
  if (colour) return { kind: 'rgb', rows: meta.rows, columns: meta.columns, data: toRgb(meta, samples, photometric, planar) };
  if (samples.length < pixels) throw new DicomReadError(`the frame holds ${samples.length} samples for ${pixels} pixels`);
  return { kind: 'grey', rows: meta.rows, columns: meta.columns, data: samples.length === pixels ? samples : samples.subarray(0, pixels) };
}
