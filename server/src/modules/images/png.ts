import type { Raster } from '../../dicom/derived-writer.js';
import { clientSharp, DEFAULT_PICTURE_LIMITS, inspectPicture, type PictureLimits } from '../../imaging/picture-limits.js';
import { AppError } from '../../util/errors.js';

/**
 * A PNG as a raster: greyscale stays greyscale (8 or 16 bits), colour becomes 8-bit RGB, alpha
 * is dropped. Anything sharp cannot read as a PNG is INVALID_PNG; a PNG whose header promises
 * more than `limits` is PICTURE_TOO_LARGE before any pixel is decoded.
 */
export async function decodePng(bytes: Buffer, limits: PictureLimits = DEFAULT_PICTURE_LIMITS): Promise<Raster> {
  const header = await inspectPicture(bytes, limits, { format: 'png' });
  const grey = header.channels - (header.hasAlpha ? 1 : 0) === 1;
  const deep = grey && header.depth === 'ushort';
  try {
    const image = clientSharp(bytes, limits)
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
