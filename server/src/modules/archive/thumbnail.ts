import { decodeFrame, type Frame } from '../../dicom/pixels.js';
import type { ImageMeta, ParsedDicom } from '../../dicom/reader.js';
import { renderFrame } from '../../dicom/render.js';
import { thumbnailName, type FileEntry } from './rows.js';

/** Every thumbnail: 256 px WebP. */
const THUMBNAIL = { size: 'thumbnail', format: 'webp' } as const;

/** An object to make a thumbnail of: parsed (frame 1 is decoded), or a frame already at hand with its attributes. */
export type ThumbnailSource = ParsedDicom | { frame: Frame; meta: ImageMeta };

/** Renders the thumbnail of an instance; a frame at hand is rendered as it is, with no copy. */
export async function renderThumbnail(source: ThumbnailSource): Promise<Buffer> {
  const frame = 'frame' in source ? source.frame : await decodeFrame(source, 0);
  return (await renderFrame(frame, source.meta, THUMBNAIL)).data;
}

/** The thumbnail's registry entry: named after the instance, filed with its image. */
export function thumbnailEntry(sopInstanceUid: string, imagePk: number): FileEntry {
  return { name: thumbnailName(sopInstanceUid), kind: 'thumbnail', role: 'image', contentType: 'image/webp', imagePk };
}

/** A stored image that may need its thumbnail made (a received object, thumbnails being deferred). */
export interface ThumbnailTarget {
  imagePk: number;
  studyPk: number;
  sopInstanceUid: string;
  /** The blob of its DICOM object. */
  blobKey: string;
}
