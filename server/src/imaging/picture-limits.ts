import sharp, { type Metadata, type Sharp } from 'sharp';
import { AppError, type ErrorName } from '../util/errors.js';

/**
 * Limits on what a client's picture may decode to. A PNG compresses a 7000 × 7000 picture into
 * ~190 KB; decoded it is 147 MB, so the size of the request says nothing about the memory it
 * costs. Detectors are at most ~4300 × 4300 (18.5 MP), so the defaults leave room for that and
 * refuse anything far beyond it from the header, before a pixel is decoded.
 */
export interface PictureLimits {
  /** Width × height. */
  maxPixels: number;
  /** Width × height × channels × bytes per sample, as the decoder would hold it. */
  maxDecodedBytes: number;
}

export const DEFAULT_PICTURE_LIMITS: PictureLimits = { maxPixels: 25_000_000, maxDecodedBytes: 64 * 1024 * 1024 };

/** What a picture's header says it decodes to. */
export interface PictureHeader {
  format: string;
  width: number;
  height: number;
  channels: number;
  bytesPerSample: number;
  hasAlpha: boolean;
  /** 'uchar', 'ushort', … as libvips reports it. */
  depth: string;
  decodedBytes: number;
}

const BYTES_PER_SAMPLE: Partial<Record<string, number>> = { uchar: 1, char: 1, ushort: 2, short: 2, uint: 4, int: 4, float: 4, double: 8 };

const megapixels = (n: number) => `${(n / 1e6).toFixed(1)} MP`;
const mebibytes = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/**
 * sharp for client bytes, always with the pixel limit: libvips refuses a larger input itself, so
 * a decoder reached some other way than inspectPicture is still bounded. Every decode of client
 * pictures goes through this (sharp has no process-wide input limit).
 */
export function clientSharp(bytes: Buffer, limits: PictureLimits): Sharp {
  return sharp(bytes, { limitInputPixels: limits.maxPixels, sequentialRead: true });
}

/**
 * Reads the header only (no pixel is decoded) and refuses a picture whose dimensions or decoded
 * size exceed the limits with PICTURE_TOO_LARGE (413). Bytes that are no picture, or of another
 * format than `format`, raise `invalid`.
 */
export async function inspectPicture(
  bytes: Buffer,
  limits: PictureLimits,
  options: { field?: string; format?: string; invalid?: ErrorName } = {},
): Promise<PictureHeader> {
  const field = options.field ?? 'data';
  const invalid = options.invalid ?? 'INVALID_PNG';
  // What libvips reports of client bytes: sharp's typings promise fields a damaged file may lack.
  let meta: Partial<Metadata>;
  try {
    // The header's own figures are checked below; libvips' limit here would only blur the error.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new AppError(invalid, [{ field, message: (error as Error).message }]);
  }
  if (!meta.format || !meta.width || !meta.height || !meta.channels || (options.format && meta.format !== options.format)) {
    throw new AppError(invalid, [{ field, message: `found ${meta.format ?? 'unknown'} data` }]);
  }
  const bytesPerSample = BYTES_PER_SAMPLE[meta.depth ?? 'uchar'] ?? 8;
  const pixels = meta.width * meta.height;
  const decodedBytes = pixels * meta.channels * bytesPerSample;
  const size = `${meta.width} × ${meta.height}`;
  if (pixels > limits.maxPixels) {
    throw new AppError('PICTURE_TOO_LARGE', [
      { field, message: `${size} pixels (${megapixels(pixels)}) exceed the limit of ${megapixels(limits.maxPixels)} (upload.max_pixels)` },
    ]);
  }
  if (decodedBytes > limits.maxDecodedBytes) {
    throw new AppError('PICTURE_TOO_LARGE', [
      {
        field,
        message: `${size} × ${meta.channels} × ${bytesPerSample} bytes decode to ${mebibytes(decodedBytes)}, over the limit of ${mebibytes(limits.maxDecodedBytes)} (upload.max_decoded_bytes)`,
      },
    ]);
  }
  return {
    format: meta.format,
    width: meta.width,
    height: meta.height,
    channels: meta.channels,
    bytesPerSample,
    hasAlpha: meta.hasAlpha ?? false,
    depth: meta.depth ?? 'uchar',
    decodedBytes,
  };
}
