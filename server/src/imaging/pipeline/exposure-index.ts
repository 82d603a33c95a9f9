import { fieldColumns, type Collimation } from '../geometry.js';
import type { CollimationResult } from './collimation.js';

export interface Segmentation {
  /** Per coarse pixel: 0 outside the field, 1 raw beam, 2 anatomy. */
  labels: Uint8Array;
  rows: number;
  columns: number;
  factor: number;
  rawBeamLevel: number;
}

const OUTSIDE = 0;
const RAW_BEAM = 1;
const ANATOMY = 2;
export const LABEL = { OUTSIDE, RAW_BEAM, ANATOMY } as const;

/** Shrinks the field a little so penumbra at the shutter edges is not taken for anatomy. */
export function shrunk(field: Collimation, by: number): Collimation {
  return field.shape === 'circle'
    ? { ...field, radius: Math.max(1, field.radius - by) }
    : { ...field, width: Math.max(1, field.width - 2 * by), height: Math.max(1, field.height - 2 * by) };
}

/**
 * Raw beam versus anatomy inside the field: the open beam is the brightest level in the field
 * (its upper percentile); anything above 60 % of it is unattenuated, the rest is the patient.
 */
export function segment(result: CollimationResult): Segmentation {
  const { coarse, field } = result;
  const { data, rows, columns, factor } = coarse;
  const inner = shrunk(field, 2 * factor);
  const labels = new Uint8Array(rows * columns);
  const values = new Float32Array(rows * columns);
  let n = 0;
  for (let y = 0; y < rows; y += 1) {
    const [from, to] = fieldColumns(inner, (y + 0.5) * factor, columns, factor);
    for (let x = from; x <= to; x += 1) {
      labels[y * columns + x] = ANATOMY;
      values[n++] = data[y * columns + x]!;
    }
  }
  const inField = values.subarray(0, n).sort();
  const rawBeamLevel = inField.length > 0 ? inField[Math.floor(0.995 * (inField.length - 1))] : result.openBeam;
  for (let i = 0; i < labels.length; i += 1) if (labels[i] === ANATOMY && data[i] > 0.6 * rawBeamLevel) labels[i] = RAW_BEAM;
  return { labels, rows, columns, factor, rawBeamLevel };
}

export interface ExposureIndex {
  /** IEC 62494-1 Exposure Index: 100 × the detector kerma (µGy) of the value of interest. */
  ei: number;
  targetEi: number;
  /** 10·log10(EI / EI_T). */
  di: number;
  /** The value of interest: median kerma over the anatomy, µGy. */
  voiKermaUGy: number;
}

export function exposureIndex(seg: Segmentation, coarse: Float32Array, targetEi: number): ExposureIndex {
  const pick = (keep: (label: number) => boolean) => {
    const out = new Float32Array(seg.labels.length);
    let n = 0;
    for (let i = 0; i < seg.labels.length; i += 1) if (keep(seg.labels[i])) out[n++] = coarse[i]!;
    return out.subarray(0, n).sort();
  };
  let values = pick((l) => l === ANATOMY);
  // No anatomy (an empty exposure): the field itself is the region of interest.
  if (values.length === 0) values = pick((l) => l !== OUTSIDE);
  const voi = values.length > 0 ? values[Math.floor(values.length / 2)] : 0;
  const ei = Math.round(100 * voi * 10) / 10;
  const di = ei > 0 && targetEi > 0 ? Math.round(10 * Math.log10(ei / targetEi) * 100) / 100 : 0;
  return { ei, targetEi, di, voiKermaUGy: voi };
}
