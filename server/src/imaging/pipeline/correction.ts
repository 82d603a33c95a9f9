import type { DetectorCalibration } from '../../modules/devices/detector-simulator.js';

const inverses = new WeakMap<DetectorCalibration, Float32Array>();

/** 1 / (gain · DN per µGy), computed once per calibration: a multiply per pixel instead of two divides. */
function inverseGain(cal: DetectorCalibration): Float32Array {
  let factor = inverses.get(cal);
  if (!factor) {
    factor = new Float32Array(cal.gain.length);
    for (let i = 0; i < factor.length; i += 1) factor[i] = 1 / (cal.gain[i]! * cal.dnPerUGy);
    inverses.set(cal, factor);
  }
  return factor;
}

/**
 * Offset, gain and defect correction: raw digital numbers to detector air kerma (µGy) per pixel.
 * A defective pixel takes the mean of its valid 4-neighbours (a dead column its left and right).
 */
export function correct(raw: Uint16Array, cal: DetectorCalibration): Float32Array {
  const { rows, columns, offset, defects } = cal;
  if (raw.length !== rows * columns) throw new Error(`raw image has ${raw.length} pixels, calibration ${rows * columns}`);
  const out = new Float32Array(raw.length);
  const factor = inverseGain(cal);
  for (let i = 0; i < raw.length; i += 1) {
    const k = (raw[i]! - offset[i]!) * factor[i]!;
    out[i] = k > 0 ? k : 0;
  }
  for (const i of defectList(cal)) {
    const r = Math.floor(i / columns);
    const c = i - r * columns;
    let sum = 0;
    let n = 0;
    for (const [dr, dc] of [[0, -1], [0, 1], [-1, 0], [1, 0]] as const) {
      const rr = r + dr;
      const cc = c + dc;
      if (rr < 0 || cc < 0 || rr >= rows || cc >= columns) continue;
      const j = rr * columns + cc;
      if (defects[j]) continue;
      sum += out[j]!;
      n += 1;
    }
    out[i] = n > 0 ? sum / n : 0;
  }
  return out;
}

const defectLists = new WeakMap<DetectorCalibration, Uint32Array>();

function defectList(cal: DetectorCalibration): Uint32Array {
  let list = defectLists.get(cal);
  if (!list) {
    const found: number[] = [];
    for (let i = 0; i < cal.defects.length; i += 1) if (cal.defects[i]) found.push(i);
    list = Uint32Array.from(found);
    defectLists.set(cal, list);
  }
  return list;
}

/** Block means over `factor × factor` tiles: the coarse image the analysis stages work on. */
export function downsample(image: Float32Array, rows: number, columns: number, factor: number): { data: Float32Array; rows: number; columns: number } {
  const outRows = Math.floor(rows / factor);
  const outColumns = Math.floor(columns / factor);
  const data = new Float32Array(outRows * outColumns);
  const row = new Float64Array(outColumns);
  for (let R = 0; R < outRows; R += 1) {
    row.fill(0);
    for (let dy = 0; dy < factor; dy += 1) {
      const base = (R * factor + dy) * columns;
      for (let C = 0, c = 0; C < outColumns; C += 1) {
        let s = 0;
        for (let dx = 0; dx < factor; dx += 1, c += 1) s += image[base + c]!;
        row[C]! += s;
      }
    }
    const norm = 1 / (factor * factor);
    for (let C = 0; C < outColumns; C += 1) data[R * outColumns + C] = row[C]! * norm;
  }
  return { data, rows: outRows, columns: outColumns };
}

export function percentile(values: Float32Array, q: number): number {
  const sorted = Float32Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * sorted.length)))]!;
}
