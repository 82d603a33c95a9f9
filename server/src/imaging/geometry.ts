/** The X-ray field on the detector, in detector pixels: a (rotated) rectangle or an iris circle. */
export type Collimation =
  | { shape: 'rect'; cx: number; cy: number; width: number; height: number; angleDeg: number }
  | { shape: 'circle'; cx: number; cy: number; radius: number };

export function corners(c: Extract<Collimation, { shape: 'rect' }>): [number, number][] {
  const a = (c.angleDeg * Math.PI) / 180;
  const [cos, sin] = [Math.cos(a), Math.sin(a)];
  return (
    [
      [-1, -1],
      [1, -1],
      [1, 1],
      [-1, 1],
    ] as const
  ).map(([su, sv]) => {
    const u = (su * c.width) / 2;
    const v = (sv * c.height) / 2;
    return [c.cx + u * cos - v * sin, c.cy + u * sin + v * cos];
  });
}

/** The x-interval the (convex) field covers on the horizontal line at `y`, or undefined. */
export function rowSpan(c: Collimation, y: number): [number, number] | undefined {
  if (c.shape === 'circle') {
    const dy = y - c.cy;
    if (Math.abs(dy) > c.radius) return undefined;
    const half = Math.sqrt(c.radius ** 2 - dy ** 2);
    return [c.cx - half, c.cx + half];
  }
  const points = corners(c);
  let low = Infinity;
  let high = -Infinity;
  for (let k = 0; k < 4; k += 1) {
    const [x1, y1] = points[k];
    const [x2, y2] = points[(k + 1) % 4];
    if (y < Math.min(y1, y2) || y > Math.max(y1, y2) || y1 === y2) continue;
    const x = x1 + ((y - y1) / (y2 - y1)) * (x2 - x1);
    low = Math.min(low, x);
    high = Math.max(high, x);
  }
  return low <= high ? [low, high] : undefined;
}

/**
 * The columns whose pixel centres lie in the field on the row through `y`, for a grid of
 * `pixelSize` detector pixels per column; an empty range (from > to) when the row misses it.
 */
export function fieldColumns(c: Collimation, y: number, columns: number, pixelSize = 1): [number, number] {
  const span = rowSpan(c, y);
  if (!span) return [0, -1];
  return [Math.max(0, Math.ceil(span[0] / pixelSize - 0.5)), Math.min(columns - 1, Math.floor(span[1] / pixelSize - 0.5))];
}

export function insideCollimation(c: Collimation, x: number, y: number): boolean {
  if (c.shape === 'circle') return (x - c.cx) ** 2 + (y - c.cy) ** 2 <= c.radius ** 2;
  const a = (-c.angleDeg * Math.PI) / 180;
  const dx = x - c.cx;
  const dy = y - c.cy;
  const u = dx * Math.cos(a) - dy * Math.sin(a);
  const v = dx * Math.sin(a) + dy * Math.cos(a);
  return Math.abs(u) <= c.width / 2 && Math.abs(v) <= c.height / 2;
}
