import type { DetectorCalibration } from '../calibration.js';
import { sharedFloat32, sharedUint16, toShared, Workspace } from './shared.js';

const MAX = 16383;

/** What the correction kernel needs of a calibration, shared between the pipeline's threads. */
export interface SharedCalibration {
  offset: Float32Array;
  /** 1 / (gain · DN per µGy): a multiply per pixel instead of two divides. */
  factor: Float32Array;
  defects: Uint32Array;
  dnPerUGy: number;
}

const prepared = new WeakMap<DetectorCalibration, SharedCalibration>();

/** Computed once per calibration (~0.1 s at 3072²) and kept while the calibration lives. */
export function sharedCalibration(cal: DetectorCalibration): SharedCalibration {
  let shared = prepared.get(cal);
  if (!shared) {
    const factor = sharedFloat32(cal.gain.length);
    for (let i = 0; i < factor.length; i += 1) factor[i] = 1 / (cal.gain[i] * cal.dnPerUGy);
    const found: number[] = [];
    for (let i = 0; i < cal.defects.length; i += 1) if (cal.defects[i]) found.push(i);
    shared = { offset: toShared(cal.offset), factor, defects: Uint32Array.from(found), dnPerUGy: cal.dnPerUGy };
    prepared.set(cal, shared);
  }
  return shared;
}

export interface CorrectionArgs {
  raw: Uint16Array;
  offset: Float32Array;
  factor: Float32Array;
  dnPerUGy: number;
  columns: number;
  /** Out: detector air kerma, µGy. */
  kerma: Float32Array;
  /** Out: the 14-bit For Processing value, kerma · DN per µGy. */
  processing: Uint16Array;
}

/** Rows [from, to) of offset and gain correction: raw digital numbers to kerma and processing values. */
export function correctRows(args: CorrectionArgs, from: number, to: number): void {
  const { raw, offset, factor, dnPerUGy, kerma, processing } = args;
  for (let i = from * args.columns, end = to * args.columns; i < end; i += 1) {
    const k = (raw[i] - offset[i]) * factor[i];
    const positive = k > 0 ? k : 0;
    kerma[i] = positive;
    const v = positive * dnPerUGy;
    processing[i] = v >= MAX ? MAX : v;
  }
}

/** A defective pixel takes the mean of its valid 4-neighbours (a dead column its left and right). */
export function correctDefects(kerma: Float32Array, processing: Uint16Array, cal: DetectorCalibration): void {
  const { rows, columns, defects, dnPerUGy } = cal;
  for (const i of sharedCalibration(cal).defects) {
    const r = Math.floor(i / columns);
    const c = i - r * columns;
    let sum = 0;
    let n = 0;
    for (const [dr, dc] of [
      [0, -1],
      [0, 1],
      [-1, 0],
      [1, 0],
    ] as const) {
      const rr = r + dr;
      const cc = c + dc;
      if (rr < 0 || cc < 0 || rr >= rows || cc >= columns) continue;
      const j = rr * columns + cc;
      if (defects[j]) continue;
      sum += kerma[j];
      n += 1;
    }
    kerma[i] = n > 0 ? sum / n : 0;
    processing[i] = Math.min(MAX, kerma[i] * dnPerUGy);
  }
}

/** Kerma and the raw copy in the workspace; the processing image new (it leaves with the result). */
export function correctionArgs(raw: Uint16Array, cal: DetectorCalibration, workspace: Workspace): CorrectionArgs {
  const { offset, factor, dnPerUGy } = sharedCalibration(cal);
  if (raw.length !== cal.rows * cal.columns) throw new Error(`raw image has ${raw.length} pixels, calibration ${cal.rows * cal.columns}`);
  const shared = workspace.uint16('raw', raw.length);
  shared.set(raw);
  return {
    raw: shared,
    offset,
    factor,
    dnPerUGy,
    columns: cal.columns,
    kerma: workspace.float32('kerma', raw.length),
    processing: sharedUint16(raw.length),
  };
}

/** Offset, gain and defect correction on this thread: raw digital numbers to detector air kerma (µGy). */
export function correct(raw: Uint16Array, cal: DetectorCalibration): Float32Array {
  const args = correctionArgs(raw, cal, new Workspace());
  correctRows(args, 0, cal.rows);
  correctDefects(args.kerma, args.processing, cal);
  return args.kerma;
}

export interface DownsampleArgs {
  image: Float32Array;
  columns: number;
  factor: number;
  /** Out: block means, floor(rows / factor) × floor(columns / factor). */
  out: Float32Array;
}

/** Coarse rows [from, to) of block means over `factor × factor` tiles. */
export function downsampleRows(args: DownsampleArgs, from: number, to: number): void {
  const { image, columns, factor, out } = args;
  const outColumns = Math.floor(columns / factor);
  const row = new Float64Array(outColumns);
  const norm = 1 / (factor * factor);
  for (let R = from; R < to; R += 1) {
    row.fill(0);
    for (let dy = 0; dy < factor; dy += 1) {
      const base = (R * factor + dy) * columns;
      for (let C = 0, c = 0; C < outColumns; C += 1) {
        let s = 0;
        for (let dx = 0; dx < factor; dx += 1, c += 1) s += image[base + c];
        row[C] += s;
      }
    }
    for (let C = 0; C < outColumns; C += 1) out[R * outColumns + C] = row[C] * norm;
  }
}

/** Block means over `factor × factor` tiles: the coarse image the analysis stages work on. */
export function downsample(
  image: Float32Array,
  rows: number,
  columns: number,
  factor: number,
): { data: Float32Array; rows: number; columns: number } {
  const outRows = Math.floor(rows / factor);
  const outColumns = Math.floor(columns / factor);
  const data = new Float32Array(outRows * outColumns);
  downsampleRows({ image, columns, factor, out: data }, 0, outRows);
  return { data, rows: outRows, columns: outColumns };
}

export function percentile(values: Float32Array, q: number): number {
  const sorted = Float32Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * sorted.length)))];
}
