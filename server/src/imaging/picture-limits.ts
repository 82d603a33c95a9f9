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

/** A picture's decoded shape as its header states it (a PNG's IHDR, a DICOM object's Rows, Columns, Samples per Pixel, Bits Allocated, Number of Frames). */
export interface DecodedShape {
  width: number;
  height: number;
  channels: number;
  bytesPerSample: number;
  frames?: number;
}

/**
 * Refuses a shape over the limits with PICTURE_TOO_LARGE (413) and returns its decoded size in
 * bytes. For any format whose header the caller has read (DICOM upload and STOW-RS check Rows ×
 * Columns × frames here before decompressing Pixel Data).
 */
export function assertDecodedSize(shape: DecodedShape, limits: PictureLimits, field = 'data'): number {
  const frames = shape.frames ?? 1;
  const pixels = shape.width * shape.height;
  const decodedBytes = pixels * shape.channels * shape.bytesPerSample * frames;
  const size = `${shape.width} × ${shape.height}`;
  if (pixels > limits.maxPixels) {
    throw new AppError('PICTURE_TOO_LARGE', [
      { field, message: `${size} pixels (${megapixels(pixels)}) exceed the limit of ${megapixels(limits.maxPixels)} (upload.max_pixels)` },
    ]);
  }
  if (decodedBytes > limits.maxDecodedBytes) {
    const shapeText = `${size} × ${shape.channels} × ${shape.bytesPerSample} bytes${frames > 1 ? ` × ${frames} frames` : ''}`;
    throw new AppError('PICTURE_TOO_LARGE', [
      {
        field,
        message: `${shapeText} decode to ${mebibytes(decodedBytes)}, over the limit of ${mebibytes(limits.maxDecodedBytes)} (upload.max_decoded_bytes)`,
      },
    ]);
  }
  return decodedBytes;
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
  const decodedBytes = assertDecodedSize(
    { width: meta.width, height: meta.height, channels: meta.channels, bytesPerSample },
    limits,
    field,
  );
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
