import type { DecodedImage, Rendered } from '../../dicom/render.js';

/**
 * Least recently used first out, bounded in bytes. An entry larger than `maxEntryShare` of the
 * budget is not kept: one huge value must not flush everything else.
 */
export class BoundedCache<T> {
  private readonly entries = new Map<string, { value: T; bytes: number }>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(
    readonly maxBytes: number,
    private readonly sizeOf: (value: T) => number,
    private readonly maxEntryShare: number,
  ) {}

  get size(): number {
    return this.bytes;
  }

  get(key: string): T | undefined {
    const hit = this.entries.get(key);
    if (!hit) {
      this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.value;
  }

  set(key: string, value: T): void {
    const bytes = this.sizeOf(value);
    if (bytes > this.maxBytes * this.maxEntryShare) return;
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.bytes;
      this.entries.delete(key);
    }
    this.entries.set(key, { value, bytes });
    this.bytes += bytes;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.bytes;
    }
  }
}

/**
 * Rendered previews (RENDER_CACHE_MB) and decoded first frames (FRAME_CACHE_MB), each bounded in
 * bytes. DICOM objects never change under their SOP Instance UID (a post-processed copy gets a
 * new one), so an entry never goes stale; the keys carry the file's hash all the same, in case
 * an image is stored again. The frame cache is what Orthanc's parsed-DICOM cache is to it: a
 * viewer asking for several sizes or windows of one image reads, parses and (for a compressed
 * object) decodes it once; each request still windows, resizes and encodes.
 */
export class RenderCache extends BoundedCache<Rendered> {
  readonly frames: BoundedCache<DecodedImage>;

  constructor(maxBytes: number, frameBytes = 0) {
    super(maxBytes, (value) => value.data.length, 1 / 4);
    // The whole buffer a frame views is what stays alive (an uncompressed frame keeps its file).
    this.frames = new BoundedCache<DecodedImage>(frameBytes, (value) => value.frame.data.buffer.byteLength, 1 / 2);
  }
}
