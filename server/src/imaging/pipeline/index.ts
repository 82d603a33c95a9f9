import type { DetectorCalibration } from '../calibration.js';
import type { Collimation } from '../geometry.js';
import { coarseFactor, collimationOnCoarse } from './collimation.js';
import { correctDefects, correctionArgs } from './correction.js';
import { DEFAULT_ENHANCEMENT, enhance } from './enhancement.js';
import { LOCAL, type RowExecutor } from './executor.js';
import { exposureIndex, LABEL, segment, shrunk, type ExposureIndex } from './exposure-index.js';
import { sharedUint16, Workspace } from './shared.js';

/** The pipeline's stages in the order they complete (the same names key `timings`). */
export const STAGES = ['correction', 'collimation', 'enhancement', 'segmentation', 'apply'] as const;
export type Stage = (typeof STAGES)[number];

export interface PipelineInput {
  rows: number;
  columns: number;
  raw: Uint16Array;
  calibration: DetectorCalibration;
  targetEi: number;
  /** Called as each stage completes (the caller decides whom to tell). */
  onStage?: (stage: Stage) => void | Promise<void>;
  /** Planes to reuse from earlier runs (a new one when absent). */
  workspace?: Workspace;
}

export interface PipelineResult {
  rows: number;
  columns: number;
  /** 14-bit For Presentation pixels (MONOCHROME2: attenuation bright, shutters black). */
  presentation: Uint16Array;
  /** 14-bit For Processing pixels: corrected, linear in detector dose. */
  processing: Uint16Array;
  window: { center: number; width: number };
  exposure: ExposureIndex;
  field: Collimation;
  /** Milliseconds per stage, for the benchmark's shares. */
  timings: Record<string, number>;
}

const MAX = 16383;
/** Kerma floor for the log: below a hundredth of a µGy the signal is noise. */
const LOG_FLOOR = 0.01;

/** The q-quantile of an already sorted array. */
function quantile(sorted: Float32Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))] ?? 0;
}

/**
 * Raw detector frame → corrected dose → field → log → multiscale enhancement → raw beam and
 * anatomy (EI/DI) → shutter masking and automatic window → 14-bit presentation pixels.
 */
export async function runPipeline(input: PipelineInput, executor: RowExecutor = LOCAL): Promise<PipelineResult> {
  const { rows, columns } = input;
  const timings: Record<string, number> = {};
  let mark = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = now - mark;
    mark = now;
  };

  const workspace = input.workspace ?? new Workspace();
  const corrected = correctionArgs(input.raw, input.calibration, workspace);
  await executor.run('correct', corrected, rows);
  const { kerma, processing } = corrected;
  correctDefects(kerma, processing, input.calibration);
  lap('correction');
  await input.onStage?.('correction');

  const factor = coarseFactor(rows, columns);
  const [coarseRows, coarseColumns] = [Math.floor(rows / factor), Math.floor(columns / factor)];
  const coarse = { rows: coarseRows, columns: coarseColumns, data: workspace.float32('coarse', coarseRows * coarseColumns) };
  await executor.run('downsample', { image: kerma, columns, factor, out: coarse.data }, coarse.rows);
  const collimation = collimationOnCoarse(coarse, factor, rows, columns);
  // The edge is found to within a coarse block; mask a block inside it so no unexposed rim shows.
  const shutter = shrunk(collimation.field, collimation.coarse.factor * 1.5);
  lap('collimation');
  await input.onStage?.('collimation');

  // −log(dose) through a table over the 14-bit processing values (Math.log per pixel: ~220 ms
  // at 3072² here, the table ~20 ms). Outside the field the shutters would make a huge edge for
  // the pyramid to ring on: it takes the open-beam level there and is blacked out at the end.
  const logTable = workspace.float32('logTable', MAX + 1);
  for (let v = 0; v <= MAX; v += 1) logTable[v] = -Math.log(Math.max(v / input.calibration.dnPerUGy, LOG_FLOOR));
  const density = workspace.float32('density', kerma.length);
  const outside = -Math.log(Math.max(collimation.openBeam, LOG_FLOOR));
  await executor.run('density', { processing, logTable, outside, shutter, columns, density }, rows);
  const enhanced = await enhance({ data: density, rows, columns }, DEFAULT_ENHANCEMENT, executor, workspace);
  lap('enhancement');
  await input.onStage?.('enhancement');

  const segmentation = segment(collimation);
  const exposure = exposureIndex(segmentation, collimation.coarse.data, input.targetEi);
  lap('segmentation');
  await input.onStage?.('segmentation');

  // Window from the enhanced values: the field's range, and the anatomy's for the VOI window.
  const { labels, columns: C } = segmentation;
  const labelAt = (y: number, x: number) =>
    labels[Math.min(segmentation.rows - 1, (y / factor) | 0) * C + Math.min(C - 1, (x / factor) | 0)];
  // ~150 K samples: the quantiles below are as steady as from every 4th pixel, the sorts 4× cheaper at 3072².
  const stride = Math.max(1, Math.round(Math.sqrt((rows * columns) / 150_000)));
  const fieldSample = new Float32Array(Math.ceil(rows / stride) * Math.ceil(columns / stride));
  const anatomySample = new Float32Array(fieldSample.length);
  let nField = 0;
  let nAnatomy = 0;
  for (let y = 0; y < rows; y += stride) {
    for (let x = 0; x < columns; x += stride) {
      const label = labelAt(y, x);
      if (label === LABEL.OUTSIDE) continue;
      fieldSample[nField++] = enhanced[y * columns + x]!;
      if (label === LABEL.ANATOMY) anatomySample[nAnatomy++] = enhanced[y * columns + x]!;
    }
  }
  const field = fieldSample.subarray(0, nField).sort();
  const anatomy = nAnatomy > 0 ? anatomySample.subarray(0, nAnatomy).sort() : field;
  const low = quantile(field, 0.002);
  const high = Math.max(low + 1e-6, quantile(anatomy, 0.999));
  const scale = MAX / (high - low);
  const presentation = sharedUint16(kerma.length);
  await executor.run('apply', { enhanced, low, scale, shutter, columns, presentation }, rows);
  const a1 = (quantile(anatomy, 0.01) - low) * scale;
  const a99 = (quantile(anatomy, 0.99) - low) * scale;
  const window = { center: Math.round((a1 + a99) / 2), width: Math.max(1, Math.round((a99 - a1) * 1.1)) };
  lap('apply');
  await input.onStage?.('apply');
  return { rows, columns, presentation, processing, window, exposure, field: collimation.field, timings };
}
