import type { Collimation } from '../geometry.js';
import { downsample, percentile } from './correction.js';

type Point = [number, number];

/** Andrew's monotone chain. */
function convexHull(points: Point[]): Point[] {
  const sorted = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o: Point, a: Point, b: Point) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Point[] = [];
  for (const p of sorted) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (const p of sorted.reverse()) {
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  return [...lower.slice(0, -1), ...upper.slice(0, -1)];
}

function polygonArea(hull: Point[]): number {
  let a = 0;
  for (let i = 0; i < hull.length; i += 1) {
    const [x1, y1] = hull[i];
    const [x2, y2] = hull[(i + 1) % hull.length];
    a += x1 * y2 - x2 * y1;
  }
  return Math.abs(a) / 2;
}

/** The minimum-area rectangle around a convex hull: one side lies on a hull edge (rotating calipers). */
function minAreaRect(hull: Point[]): Extract<Collimation, { shape: 'rect' }> {
  let best: Extract<Collimation, { shape: 'rect' }> | undefined;
  let bestArea = Infinity;
  for (let i = 0; i < hull.length; i += 1) {
    const [x1, y1] = hull[i];
    const [x2, y2] = hull[(i + 1) % hull.length];
    const angle = Math.atan2(y2 - y1, x2 - x1);
    const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
    let [minU, maxU, minV, maxV] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const [x, y] of hull) {
      const u = x * cos + y * sin;
      const v = -x * sin + y * cos;
      minU = Math.min(minU, u);
      maxU = Math.max(maxU, u);
      minV = Math.min(minV, v);
      maxV = Math.max(maxV, v);
    }
    const area = (maxU - minU) * (maxV - minV);
    if (area < bestArea) {
      bestArea = area;
      const cu = (minU + maxU) / 2;
      const cv = (minV + maxV) / 2;
      let degrees = (angle * 180) / Math.PI;
      let [width, height] = [maxU - minU, maxV - minV];
      // Report the smallest rotation (−45°…45°), swapping sides as a quarter turn does.
      while (degrees > 45) {
        degrees -= 90;
        [width, height] = [height, width];
      }
      while (degrees <= -45) {
        degrees += 90;
        [width, height] = [height, width];
      }
      best = { shape: 'rect', cx: cu * cos - cv * sin, cy: cu * sin + cv * cos, width, height, angleDeg: degrees };
    }
  }
  return best!;
}

export interface CollimationResult {
  field: Collimation;
  /** Coarse analysis image (block means of the corrected kerma) and its scale, for later stages. */
  coarse: { data: Float32Array; rows: number; columns: number; factor: number };
  /** Signal level outside the field and in the open beam (µGy), as estimated. */
  background: number;
  openBeam: number;
}

/**
 * Finds the collimated field on the corrected image: a coarse copy (~384 px a side) is
 * thresholded just above the scatter level outside the field; the first and last bright pixel of
 * every row and column give boundary points whose convex hull is the field. Shutters are
 * straight and irises round, so the hull is either a (rotated) rectangle — its minimum-area
 * rectangle fills it — or a circle, which fills π/4 of that rectangle.
 */
export function detectCollimation(kerma: Float32Array, rows: number, columns: number): CollimationResult {
  const factor = coarseFactor(rows, columns);
  return collimationOnCoarse(downsample(kerma, rows, columns, factor), factor, rows, columns);
}

/** The block size of the coarse analysis image: ~384 px a side. */
export const coarseFactor = (rows: number, columns: number) => Math.max(1, Math.round(Math.max(rows, columns) / 384));

/** detectCollimation on an already downsampled image (`factor` detector pixels per coarse pixel). */
export function collimationOnCoarse(
  coarse: { data: Float32Array; rows: number; columns: number },
  factor: number,
  rows: number,
  columns: number,
): CollimationResult {
  const background = percentile(coarse.data, 0.02);
  const openBeam = percentile(coarse.data, 0.995);
  const threshold = Math.max(3 * background, background + 0.01 * openBeam);
  const points: Point[] = [];
  const { data, rows: R, columns: C } = coarse;
  for (let y = 0; y < R; y += 1) {
    let first = -1;
    let last = -1;
    for (let x = 0; x < C; x += 1) {
      if (data[y * C + x] > threshold) {
        if (first < 0) first = x;
        last = x;
      }
    }
    if (first >= 0) points.push([first, y], [last + 1, y], [first, y + 1], [last + 1, y + 1]);
  }
  if (points.length < 8) {
    const whole: Collimation = { shape: 'rect', cx: columns / 2, cy: rows / 2, width: columns, height: rows, angleDeg: 0 };
    return { field: whole, coarse: { ...coarse, factor }, background, openBeam };
  }
  const hull = convexHull(points);
  const rect = minAreaRect(hull);
  const fill = polygonArea(hull) / (rect.width * rect.height);
  let field: Collimation;
  if (fill < 0.88) {
    // The centre of the rectangle around a circle is the circle's; the radius from its area.
    field = { shape: 'circle', cx: rect.cx * factor, cy: rect.cy * factor, radius: Math.sqrt(polygonArea(hull) / Math.PI) * factor };
  } else {
    field = { ...rect, cx: rect.cx * factor, cy: rect.cy * factor, width: rect.width * factor, height: rect.height * factor };
  }
  return { field, coarse: { ...coarse, factor }, background, openBeam };
}
