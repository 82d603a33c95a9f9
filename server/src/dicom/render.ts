import os from 'node:os';
import sharp from 'sharp';
import { decodeFrame, type Frame } from './pixels.js';
import { boxShrink } from './shrink.js';
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
  // Two pixels per step through a 32-bit view when the frame is aligned to allow it (and its
  // buffer reaches that far: a damaged file's frame can be a short view).
  if (data.byteOffset % 4 === 0 && data.byteOffset + (data.length >> 1) * 4 <= data.buffer.byteLength) {
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
 * A decoded first frame with what the renderer needs to know about it, as the frame cache keeps
 * it: whether the stored values stay within Bits Stored is a pass over every pixel, done once.
 */
export interface DecodedImage {
  meta: ImageMeta;
  frame: Frame;
  /** Unsigned greyscale whose values all fit Bits Stored: averaging stored values is averaging modality values. */
  averageable: boolean;
}

export function describeFrame(frame: Frame, meta: ImageMeta): DecodedImage {
  const averageable =
    frame.kind === 'grey' &&
    meta.pixelRepresentation === 0 &&
    (frame.data instanceof Uint8Array
      ? meta.bitsStored >= 8 || frame.data.every((v) => v >> meta.bitsStored === 0)
      : highBitsClear(frame.data, meta.bitsStored));
  return { meta, frame, averageable };
}

export async function decodeImage(parsed: ParsedDicom): Promise<DecodedImage> {
  return describeFrame(await decodeFrame(parsed, 0), parsed.meta);
}

/**
 * Greyscale to 8 bits at the requested edge. The frame is first shrunk by the largest whole
 * factor that keeps it at or above the edge, averaging stored values (box filter), when they can
 * be averaged (unsigned, nothing above Bits Stored); then the lookup table windows what is left,
 * and sharp does the remaining reduction (< 2×) with Lanczos-3 in 8 bits. Windowing the averaged
 * values instead of averaging windowed ones is what viewers do for previews; the two agree to
 * within a grey level where the window does not clip (shrink.test.ts).
 */
function windowed(image: DecodedImage, edge: number, requested?: { center: number; width: number }) {
  const frame = image.frame as Extract<Frame, { kind: 'grey' }>;
  const k = edge > 0 ? Math.floor(Math.max(frame.rows, frame.columns) / edge) : 1;
  const source = image.averageable && k >= 2 ? { kind: 'grey' as const, ...boxShrink(frame.data, frame.rows, frame.columns, k) } : frame;
  const { lut, source: voi } = greyLut(image.meta, source, requested);
  const pixels = source.data instanceof Uint16Array ? applyLut16(source.data, lut) : applyLut8(source.data, lut);
  return { pixels, width: source.columns, height: source.rows, voi };
}

/** A frame to JPEG/PNG/WebP at one of the preview sizes (longest side; never enlarged). */
export async function renderFrame(frame: Frame, meta: ImageMeta, options: RenderOptions): Promise<Rendered> {
  return renderDecoded(describeFrame(frame, meta), options);
}

/** A decoded image to JPEG/PNG/WebP at one of the preview sizes (longest side; never enlarged). */
export async function renderDecoded(image: DecodedImage, options: RenderOptions): Promise<Rendered> {
  const edge = PREVIEW_SIZES[options.size];
  const { frame } = image;
  let pixels: Uint8Array;
  let channels: 1 | 3;
  let voi: Rendered['voi'];
  let width = frame.columns;
  let height = frame.rows;
  if (frame.kind === 'grey') {
    ({ pixels, width, height, voi } = windowed(image, edge, options.window));
    channels = 1;
  } else {
    [pixels, channels, voi] = [frame.data, 3, 'colour'];
  }
  let output = sharp(pixels, { raw: { width, height, channels } });
  if (edge > 0 && Math.max(width, height) > edge) output = output.resize({ width: edge, height: edge, fit: 'inside', kernel: 'lanczos3' });
  if (channels === 1) output = output.toColourspace('b-w');
  output =
    options.format === 'jpeg' ? output.jpeg(ENCODE.jpeg) : options.format === 'png' ? output.png(ENCODE.png) : output.webp(ENCODE.webp);
  const { data, info } = await output.toBuffer({ resolveWithObject: true });
  return { data, contentType: CONTENT_TYPES[options.format], width: info.width, height: info.height, voi };
}

/**
 * Encoder settings for a viewer on a LAN, where encode time matters more than bytes: Huffman
 * optimisation and zlib level 6 cost ~2× the encode time for ~30 % smaller previews. JPEG
 * quality 90 keeps radiographs free of visible blocking at a viewer's zoom. WebP at effort 0,
 * libwebp's fastest method, same quality setting and file size as effort 1 here for ~20 % less
 * CPU: its encode is the costliest stage of a large WebP (2048² ~45–85 ms, depending on the
 * noise in the picture), more than Orthanc's whole JPEG render of that size.
 */
const ENCODE = {
  jpeg: { quality: 90, optimiseCoding: false },
  png: { compressionLevel: 3 },
  webp: { quality: 85, effort: 0 },
} as const;

/** Frame 1 of a read object, rendered; a decoder's refusal stays a DicomReadError (or its UnsupportedTransferSyntaxError). */
export async function renderFirstFrame(parsed: ParsedDicom, options: RenderOptions): Promise<Rendered> {
  return renderDecoded(await decodeImage(parsed), options);
}
