import { fieldColumns, type Collimation } from '../geometry.js';
import { correctRows, downsampleRows } from './correction.js';
import { reconstructRows, reduceRows } from './enhancement.js';

const MAX = 16383;

export interface DensityArgs {
  processing: Uint16Array;
  /** −log(kerma) per 14-bit processing value. */
  logTable: Float32Array;
  /** The density outside the shutter: the open beam's, so the pyramid sees no shutter edge to ring on. */
  outside: number;
  shutter: Collimation;
  columns: number;
  /** Out. */
  density: Float32Array;
}

/** Rows [from, to) of −log(dose) inside the shutter. */
export function densityRows(args: DensityArgs, from: number, to: number): void {
  const { processing, logTable, outside, shutter, columns, density } = args;
  for (let y = from; y < to; y += 1) {
    const [first, last] = fieldColumns(shutter, y + 0.5, columns);
    const o = y * columns;
    density.fill(outside, o, o + columns);
    for (let i = o + first, end = o + last; i <= end; i += 1) density[i] = logTable[processing[i]]!;
  }
}

export interface ApplyArgs {
  enhanced: Float32Array;
  /** The enhanced value shown black, and 14-bit steps per unit above it. */
  low: number;
  scale: number;
  shutter: Collimation;
  columns: number;
  /** Out: 14-bit presentation pixels, black outside the shutter. */
  presentation: Uint16Array;
}

/** Rows [from, to) of the presentation image. */
export function applyRows(args: ApplyArgs, from: number, to: number): void {
  const { enhanced, low, scale, shutter, columns, presentation } = args;
  for (let y = from; y < to; y += 1) {
    const [first, last] = fieldColumns(shutter, y + 0.5, columns);
    const o = y * columns;
    presentation.fill(0, o, o + columns);
    for (let i = o + first, end = o + last; i <= end; i += 1) {
      const v = (enhanced[i] - low) * scale;
      presentation[i] = v <= 0 ? 0 : v >= MAX ? MAX : v;
    }
  }
}

/**
 * Every operation the pipeline splits by rows, by name, so the helper thread can run the same
 * code on its half. Each writes only its own rows of its output.
 */
export const KERNELS = {
  correct: correctRows,
  downsample: downsampleRows,
  density: densityRows,
  reduce: reduceRows,
  reconstruct: reconstructRows,
  apply: applyRows,
};

export type KernelName = keyof typeof KERNELS;
export type KernelArgs<K extends KernelName> = Parameters<(typeof KERNELS)[K]>[0];

export function runKernel<K extends KernelName>(kernel: K, args: KernelArgs<K>, from: number, to: number): void {
  (KERNELS[kernel] as (a: KernelArgs<K>, from: number, to: number) => void)(args, from, to);
}
