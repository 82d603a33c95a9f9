import os from 'node:os';
import sharp from 'sharp';
import { decodeFrame, type Frame } from './pixels.js';
import type { ImageMeta, ParsedDicom } from './reader.js';

// sharp picks one libvips thread on glibc Linux (to limit heap fragmentation); with one it took
// 25 ms to shrink 3072² to 256 px here, with two 15 ms. Previews are latency-bound: use the cores.
sharp.concurrency(os.availableParallelism());

export const PREVIEW_SIZES = { thumbnail: 256, small: 512, medium: 1024, large: 2048, original: 0 } as const;
export type PreviewSize = keyof typeof PREVIEW_SIZES;
export type PreviewFormat = 'jpeg' | 'png' | 'webp';
export const CONTENT_TYPES: Record<PreviewFormat, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' };

export interface RenderOptions {
  size: PreviewSize;
  format: PreviewFormat;
  /** Overrides the file's own window (in modality units, after rescale). */
  window?: { center: number; width: number };
}

export type VoiSource = 'request' | 'file-window' | 'voi-lut' | 'auto';

/**
 * A greyscale lookup table indexed by the stored bit pattern. One pass over the frame then does
 * what PS3.3's pipeline asks: mask to Bits Stored, sign-extend, Modality rescale, VOI (window
 * with LINEAR / LINEAR_EXACT / SIGMOID, or the VOI LUT Sequence), MONOCHROME1 / INVERSE.
 * 3072² pixels through a 65,536-entry table takes ~12 ms here; doing the arithmetic per pixel
 * took ~60 ms.
 */
export function greyLut(
  meta: ImageMeta,
  frame: Extract<Frame, { kind: 'grey' }>,
  requested?: { center: number; width: number },
): { lut: Uint8Array; source: VoiSource } {
  const size = frame.data instanceof Uint8Array ? 256 : 65536;
  const bits = Math.min(meta.bitsStored, frame.data instanceof Uint8Array ? 8 : 16);
  const mask = bits >= 32 ? 0xffffffff : (1 << bits) - 1;
  const signBit = 1 << (bits - 1);
  const modality = new Float64Array(size);
  for (let raw = 0; raw < size; raw += 1) {
    let stored = raw & mask;
    if (meta.pixelRepresentation === 1 && stored & signBit) stored -= 1 << bits;
    modality[raw] = stored * meta.rescaleSlope + meta.rescaleIntercept;
  }

  let voi: (x: number) => number;
  let source: VoiSource;
  const window = requested ?? meta.windows.at(0);
  if (window) {
    voi = windowFunction(meta.voiLutFunction, window.center, window.width);
    source = requested ? 'request' : 'file-window';
  } else if (meta.voiLut) {
    const { firstMapped, data, bits: lutBits } = meta.voiLut;
    const scale = 255 / ((1 << lutBits) - 1);
    voi = (x) => data[Math.min(data.length - 1, Math.max(0, Math.round(x) - firstMapped))] * scale;
    source = 'voi-lut';
  } else {
    const [low, high] = percentileRange(frame.data, modality, 0.001);
    voi = windowFunction('LINEAR', (low + high) / 2, Math.max(1, high - low));
    source = 'auto';
  }
  const invert = meta.photometric === 'MONOCHROME1' || meta.presentationLutShape === 'INVERSE';
  const lut = new Uint8Array(size);
  for (let raw = 0; raw < size; raw += 1) {
    const v = Math.round(voi(modality[raw]));
    const clamped = v < 0 ? 0 : v > 255 ? 255 : v;
    lut[raw] = invert ? 255 - clamped : clamped;
  }
  return { lut, source };
}

/** PS3.3 C.11.2.1.2: the VOI functions, to an 8-bit output range. */
export function windowFunction(fn: string, center: number, width: number): (x: number) => number {
  if (fn === 'SIGMOID') return (x) => 255 / (1 + Math.exp((-4 * (x - center)) / width));
  if (fn === 'LINEAR_EXACT') return (x) => ((x - center) / width + 0.5) * 255;
  const w = Math.max(1, width);
  const low = center - 0.5 - (w - 1) / 2;
  const high = center - 0.5 + (w - 1) / 2;
  return (x) => (x <= low ? 0 : x > high ? 255 : ((x - (center - 0.5)) / Math.max(1, w - 1) + 0.5) * 255);
}

/** The modality values at the `tail` and `1 - tail` quantiles, from a histogram of stored patterns. */
function percentileRange(data: Uint8Array | Uint16Array, modality: Float64Array, tail: number): [number, number] {
  const histogram = new Uint32Array(modality.length);
  for (let i = 0; i < data.length; i += 1) histogram[data[i]] += 1;
  // Sort the patterns by modality value (sign-extension and negative slopes reorder them).
  const order = Array.from(histogram.keys())
    .filter((k) => histogram[k] > 0)
    .sort((a, b) => modality[a] - modality[b]);
  if (order.length === 0) return [0, 1];
  const skip = Math.floor(data.length * tail);
  let seen = 0;
  let low = modality[order[0]];
  for (const k of order) {
    seen += histogram[k];
    if (seen > skip) {
      low = modality[k]!;
      break;
    }
  }
  seen = 0;
  let high = modality[order[order.length - 1]];
  for (let i = order.length - 1; i >= 0; i -= 1) {
    seen += histogram[order[i]];
    if (seen > skip) {
      high = modality[order[i]]!;
      break;
    }
  }
  return high > low ? [low, high] : [low, low + 1];
}

export interface Rendered {
  data: Buffer;
  contentType: string;
  width: number;
  height: number;
  voi: VoiSource | 'colour';
}

/** True when every stored value fits Bits Stored (no overlay or garbage bits above it). */
function highBitsClear(data: Uint16Array, bitsStored: number): boolean {
  if (bitsStored >= 16) return true;
  let or = 0;
  // Two pixels per step through a 32-bit view when the frame is aligned to allow it.
  if (data.byteOffset % 4 === 0) {
    const wide = new Uint32Array(data.buffer, data.byteOffset, data.length >> 1);
    for (let i = 0; i < wide.length; i += 1) or |= wide[i];
    or = (or | (or >>> 16)) & 0xffff;
    if (data.length % 2 === 1) or |= data[data.length - 1];
  } else {
    for (let i = 0; i < data.length; i += 1) or |= data[i];
  }
  return or >> bitsStored === 0;
}

/**
 * Two pixels per step (32-bit reads, 16-bit writes): 3072² went from ~40 ms to ~25 ms here. The
 * byte order of the pairs assumes a little-endian host, as Node's every supported platform is.
 */
function applyLut16(data: Uint16Array, lut: Uint8Array): Uint8Array {
  const n = data.length;
  const out = new Uint8Array(n + (n % 2));
  if (data.byteOffset % 4 === 0) {
    const pairs = new Uint32Array(data.buffer, data.byteOffset, n >> 1);
    const outPairs = new Uint16Array(out.buffer, 0, n >> 1);
    for (let i = 0; i < pairs.length; i += 1) {
      const v = pairs[i];
      outPairs[i] = lut[v & 0xffff] | (lut[v >>> 16] << 8);
    }
    if (n % 2 === 1) out[n - 1] = lut[data[n - 1]]!;
  } else {
    for (let i = 0; i < n; i += 1) out[i] = lut[data[i]]!;
  }
  return n % 2 === 1 ? out.subarray(0, n) : out;
}

function applyLut8(data: Uint8Array, lut: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i += 1) out[i] = lut[data[i]]!;
  return out;
}

/**
 * Shrinks an unsigned 16-bit frame in libvips before the lookup table: 3072² → 256 px takes
 * ~10 ms there, against ~30 ms for the table over all 9.4 M pixels in JavaScript. Windowing the
 * averaged values instead of averaging windowed ones is what viewers do for thumbnails.
 */
async function shrunkFirst(
  frame: Extract<Frame, { kind: 'grey' }>,
  meta: ImageMeta,
  edge: number,
): Promise<Extract<Frame, { kind: 'grey' }> | undefined> {
  const data = frame.data;
  if (!(data instanceof Uint16Array) || meta.pixelRepresentation !== 0 || edge === 0 || Math.max(frame.rows, frame.columns) <= edge)
    return undefined;
  if (!highBitsClear(data, meta.bitsStored)) return undefined;
  // sharp takes the sample depth from the array type: a Uint16Array is read as ushort.
  const { data: small, info } = await sharp(data, { raw: { width: frame.columns, height: frame.rows, channels: 1 } })
    .resize({ width: edge, height: edge, fit: 'inside', kernel: 'lanczos3' })
    .toColourspace('grey16') // else libvips hands back sRGB
    .raw({ depth: 'ushort' })
    .toBuffer({ resolveWithObject: true });
  const aligned = small.byteOffset % 2 === 0 ? small : Buffer.from(small);
  return {
    kind: 'grey',
    rows: info.height,
    columns: info.width,
    data: new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2),
  };
}

/** A frame to JPEG/PNG/WebP at one of the preview sizes (longest side; never enlarged). */
export async function renderFrame(frame: Frame, meta: ImageMeta, options: RenderOptions): Promise<Rendered> {
  const edge = PREVIEW_SIZES[options.size];
  let pixels: Uint8Array;
  let channels: 1 | 3;
  let voi: Rendered['voi'];
  let width = frame.columns;
  let height = frame.rows;
  if (frame.kind === 'grey') {
    const small = await shrunkFirst(frame, meta, edge);
    const source = small ?? frame;
    const { lut, source: voiSource } = greyLut(meta, source, options.window);
    pixels = source.data instanceof Uint16Array ? applyLut16(source.data, lut) : applyLut8(source.data, lut);
    [width, height, channels, voi] = [source.columns, source.rows, 1, voiSource];
  } else {
    [pixels, channels, voi] = [frame.data, 3, 'colour'];
  }
  let image = sharp(pixels, { raw: { width, height, channels } });
  if (edge > 0 && Math.max(width, height) > edge) image = image.resize({ width: edge, height: edge, fit: 'inside', kernel: 'lanczos3' });
  if (channels === 1) image = image.toColourspace('b-w');
  // Huffman optimisation and zlib level 6 cost ~2× the encode time for ~30 % smaller previews;
  // on a LAN the time matters more (bench/render.ts). WebP effort 1 against the default 4:
  // 256² in ~3 ms instead of ~7 ms, ~10 % larger.
  image =
    options.format === 'jpeg'
      ? image.jpeg({ quality: 90, optimiseCoding: false })
      : options.format === 'png'
        ? image.png({ compressionLevel: 3 })
        : image.webp({ quality: 85, effort: 1 });
  const { data, info } = await image.toBuffer({ resolveWithObject: true });
  return { data, contentType: CONTENT_TYPES[options.format], width: info.width, height: info.height, voi };
}

/** Frame 1 of a read object, rendered; a decoder's refusal stays a DicomReadError (or its UnsupportedTransferSyntaxError). */
export async function renderFirstFrame(parsed: ParsedDicom, options: RenderOptions): Promise<Rendered> {
  return renderFrame(await decodeFrame(parsed, 0), parsed.meta, options);
}
