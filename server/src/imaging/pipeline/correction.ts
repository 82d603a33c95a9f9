import type { DetectorCalibration } from '../../modules/devices/detector-simulator.js';

/**
 * Offset, gain and defect correction: raw digital numbers to detector air kerma (µGy) per pixel.
 * A defective pixel takes the mean of its valid 4-neighbours (a dead column its left and right).
 */
export function correct(raw: Uint16Array, cal: DetectorCalibration): Float32Array {
  const { rows, columns, offset, gain, defects, dnPerUGy } = cal;
  if (raw.length !== rows * columns) throw new Error(`raw image has ${raw.length} pixels, calibration ${rows * columns}`);
  const out = new Float32Array(raw.length);
  const scale = 1 / dnPerUGy;
  for (let i = 0; i < raw.length; i += 1) {
    const k = (raw[i]! - offset[i]!) / gain[i]! * scale;
    out[i] = k > 0 ? k : 0;
  }
  for (let i = 0; i < raw.length; i += 1) {
    if (!defects[i]) continue;
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
