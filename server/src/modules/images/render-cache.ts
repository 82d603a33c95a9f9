import type { Rendered } from '../../dicom/render.js';

/**
 * Rendered previews, least recently used first out, bounded in bytes. DICOM objects never change
 * under their SOP Instance UID (a post-processed copy gets a new one), so an entry never goes
 * stale; the key carries the file's hash all the same, in case an image is stored again.
 */
export class RenderCache {
  private readonly entries = new Map<string, Rendered>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): Rendered | undefined {
    const hit = this.entries.get(key);
    if (!hit) {
      this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit;
  }

  set(key: string, value: Rendered): void {
    if (value.data.length > this.maxBytes / 4) return; // one huge original must not flush everything else
    const old = this.entries.get(key);
    if (old) this.bytes -= old.data.length;
    this.entries.set(key, value);
    this.bytes += value.data.length;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.data.length;
    }
  }
}
