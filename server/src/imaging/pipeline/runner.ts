import { WorkerRpc } from '../../util/worker-rpc.js';
import type { DetectorCalibration } from '../calibration.js';
import type { PipelineResult, Stage } from './index.js';
import { WARM_UP_YIELDED } from './warm-up.js';
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

  /** Starts the pipeline's threads if they are not running (they load their modules meanwhile). */
  start(): WorkerRpc<WorkerRequest, PipelineResult, Stage> {
    if (this.worker?.alive) return this.worker;
    this.worker = new WorkerRpc(new URL('./worker.ts', import.meta.url), { name: 'the pipeline worker' });
    this.sent = new WeakMap(); // a new worker has no calibration yet
    return this.worker;
  }

  /** The worker, with `calibration` sent to it once (shared memory is shared, anything else copied). */
  private withCalibration(calibration: DetectorCalibration) {
    const worker = this.start();
    let key = this.sent.get(calibration);
    if (!key) {
      key = `calibration-${(this.calibrationCount += 1)}`;
      worker.post({ type: 'calibration', key, calibration } satisfies WorkerRequest);
      this.sent.set(calibration, key);
    }
    return { worker, key };
  }

  run(
    input: { rows: number; columns: number; raw: Uint16Array; calibration: DetectorCalibration; targetEi: number },
    onStage: (s: Stage) => void | Promise<void>,
  ): Promise<PipelineResult> {
    const { worker, key } = this.withCalibration(input.calibration);
    const request = { type: 'run', key, rows: input.rows, columns: input.columns, raw: input.raw, targetEi: input.targetEi } as const;
    return worker.request((id) => ({ ...request, id }), { transfer: [input.raw.buffer as ArrayBuffer], onProgress: onStage });
  }

  /**
   * Starts the pipeline's threads and runs the pipeline once over a synthetic frame with this
   * calibration (warm-up.ts), so the first exposure finds its code compiled and its planes
   * ready. 'yielded' when an exposure came first (it runs at once; the warm-up stops).
   */
  async warmUp(calibration: DetectorCalibration): Promise<'done' | 'yielded'> {
    const { worker, key } = this.withCalibration(calibration);
    try {
      await worker.request((id) => ({ type: 'warm-up', id, key, targetEi: 300 }));
      return 'done';
    } catch (error) {
      if (error instanceof Error && error.message === WARM_UP_YIELDED) return 'yielded';
      throw error;
    }
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.close();
  }
}
