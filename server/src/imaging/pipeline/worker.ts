import { parentPort } from 'node:worker_threads';
import type { DetectorCalibration } from '../../modules/devices/detector-simulator.js';
import { runPipeline } from './index.js';

/**
 * The pipeline's thread. The calibration (~85 MB at 3072²) arrives once per detector and is
 * kept, so each exposure only moves its raw frame in and its two output frames out (transferred,
 * not copied).
 */
export type WorkerRequest =
  | { type: 'calibration'; key: string; calibration: DetectorCalibration }
  | { type: 'run'; id: number; key: string; rows: number; columns: number; raw: Uint16Array; targetEi: number };

const calibrations = new Map<string, DetectorCalibration>();

parentPort?.on('message', async (message: WorkerRequest) => {
  if (message.type === 'calibration') {
    calibrations.set(message.key, message.calibration);
    return;
  }
  const calibration = calibrations.get(message.key);
  try {
    if (!calibration) throw new Error(`no calibration ${message.key} in the pipeline worker`);
    const result = await runPipeline({
      rows: message.rows, columns: message.columns, raw: message.raw, calibration, targetEi: message.targetEi,
      onStage: (stage) => parentPort?.postMessage({ id: message.id, stage }),
    });
    parentPort?.postMessage({ id: message.id, result }, [result.presentation.buffer as ArrayBuffer, result.processing.buffer as ArrayBuffer]);
  } catch (error) {
    parentPort?.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error) });
  }
});
