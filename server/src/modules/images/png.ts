import sharp, { type Metadata } from 'sharp';
import type { Raster } from '../../dicom/derived-writer.js';
import { AppError } from '../../util/errors.js';

/** Enough for a 7000 × 7000 detector; a PNG claiming more is refused before it is decoded. */
const MAX_PIXELS = 50_000_000;

/**
 * A PNG as a raster: greyscale stays greyscale (8 or 16 bits), colour becomes 8-bit RGB, alpha
 * is dropped. Anything sharp cannot read as a PNG is INVALID_PNG.
 */
export async function decodePng(bytes: Buffer): Promise<Raster> {
  // What libvips reports of client bytes: sharp's typings promise fields a damaged file may lack.
  let meta: Partial<Metadata>;
  try {
    meta = await sharp(bytes, { limitInputPixels: MAX_PIXELS }).metadata();
  } catch (error) {
    throw new AppError('INVALID_PNG', [{ field: 'data', message: (error as Error).message }]);
  }
  if (meta.format !== 'png' || !meta.width || !meta.height || !meta.channels) {
    throw new AppError('INVALID_PNG', [{ field: 'data', message: `found ${meta.format ?? 'unknown'} data` }]);
  }
  const grey = meta.channels - (meta.hasAlpha ? 1 : 0) === 1;
  const deep = grey && meta.depth === 'ushort';
  try {
    const image = sharp(bytes, { limitInputPixels: MAX_PIXELS })
      .removeAlpha()
      .toColourspace(grey ? (deep ? 'grey16' : 'b-w') : 'srgb');
    const { data, info } = await image.raw({ depth: deep ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
    const channels = info.channels === 1 ? 1 : 3;
    if (info.channels !== channels) throw new Error(`unexpected ${info.channels} channels`);
    const samples = deep
      ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2)
      : new Uint8Array(data.buffer, data.byteOffset, data.length);
    return { width: info.width, height: info.height, channels, depth: deep ? 16 : 8, data: samples };
  } catch (error) {
    throw new AppError('INVALID_PNG', [{ field: 'data', message: (error as Error).message }]);
  }
}
