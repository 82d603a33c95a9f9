/**
 * Planes the pipeline's threads share: SharedArrayBuffer-backed, so posting one to the helper
 * thread hands over a view of the same memory instead of a copy.
 */
export const sharedFloat32 = (length: number) => new Float32Array(new SharedArrayBuffer(length * 4));
export const sharedUint16 = (length: number) => new Uint16Array(new SharedArrayBuffer(length * 2));

export const isShared = (view: ArrayBufferView) => view.buffer instanceof SharedArrayBuffer;

/** The array itself when shared already, else a shared copy. */
export function toShared<T extends Float32Array | Uint16Array | Uint8Array>(array: T): T {
  if (isShared(array)) return array;
  const Ctor = array.constructor as new (buffer: SharedArrayBuffer) => T;
  const copy = new Ctor(new SharedArrayBuffer(array.byteLength));
  copy.set(array);
  return copy;
}

/**
 * Working planes kept from one exposure to the next. The first write to fresh memory costs a
 * page fault per 4 KiB: ~20 ms per 3072² Float32 plane on this VM, ~130 ms an exposure when
 * every plane was new. Arrays come back with the last run's contents: every kernel writes all
 * of its output rows. One run at a time may use a workspace.
 */
export class Workspace {
  private readonly planes = new Map<string, Float32Array | Uint16Array>();

  float32(name: string, length: number): Float32Array {
    return this.plane<Float32Array>(name, length, Float32Array, sharedFloat32);
  }

  uint16(name: string, length: number): Uint16Array {
    return this.plane<Uint16Array>(name, length, Uint16Array, sharedUint16);
  }

  private plane<T extends Float32Array | Uint16Array>(
    name: string,
    length: number,
    kind: abstract new (...args: never[]) => T,
    make: (length: number) => T,
  ): T {
    const held = this.planes.get(name);
    if (held instanceof kind && held.length === length) return held;
    const plane = make(length);
    this.planes.set(name, plane);
    return plane;
  }
}
