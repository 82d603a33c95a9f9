import { WorkerRpc } from '../../util/worker-rpc.js';
import type { DetectorCalibration } from '../calibration.js';
import type { PipelineResult, Stage } from './index.js';
import type { WorkerRequest } from './worker.js';

/**
 * Runs the image-processing pipeline on a worker thread, so HTTP, MQTT and the database keep
 * being served while a 3072² frame is processed (~0.8 s of CPU here). One worker, exposures in
 * turn: a room takes one exposure at a time. A crashed worker is replaced on the next run.
 */
export class PipelineRunner {
  private worker: WorkerRpc<WorkerRequest, PipelineResult, Stage> | undefined;
  private sent = new WeakMap<DetectorCalibration, string>();
  private calibrationCount = 0;

  private start(): WorkerRpc<WorkerRequest, PipelineResult, Stage> {
    if (this.worker?.alive) return this.worker;
    this.worker = new WorkerRpc(new URL('./worker.ts', import.meta.url), { name: 'the pipeline worker' });
    this.sent = new WeakMap(); // a new worker has no calibration yet
    return this.worker;
  }

  run(
    input: { rows: number; columns: number; raw: Uint16Array; calibration: DetectorCalibration; targetEi: number },
    onStage: (s: Stage) => void | Promise<void>,
  ): Promise<PipelineResult> {
    const worker = this.start();
    let key = this.sent.get(input.calibration);
    if (!key) {
      key = `calibration-${(this.calibrationCount += 1)}`;
      worker.post({ type: 'calibration', key, calibration: input.calibration } satisfies WorkerRequest);
      this.sent.set(input.calibration, key);
    }
    const request = { type: 'run', key, rows: input.rows, columns: input.columns, raw: input.raw, targetEi: input.targetEi } as const;
    return worker.request((id) => ({ ...request, id }), { transfer: [input.raw.buffer as ArrayBuffer], onProgress: onStage });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.close();
  }
}
