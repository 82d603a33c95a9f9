import { Worker } from 'node:worker_threads';
import type { DetectorCalibration } from '../calibration.js';
import type { PipelineResult, Stage } from './index.js';
import type { WorkerRequest } from './worker.js';

type Reply = { id: number; stage?: Stage; result?: PipelineResult; error?: string };

/**
 * Runs the image-processing pipeline on a worker thread, so HTTP, MQTT and the database keep
 * being served while a 3072² frame is processed (~0.8 s of CPU here). One worker, exposures in
 * turn: a room takes one exposure at a time. A crashed worker is replaced on the next run.
 */
export class PipelineRunner {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { onStage: (s: Stage) => void | Promise<void>; resolve: (r: PipelineResult) => void; reject: (e: Error) => void }>();
  private sent = new WeakMap<DetectorCalibration, string>();
  private calibrationCount = 0;

  private start(): Worker {
    if (this.worker) return this.worker;
    // A JS entry that registers tsx in the thread, then loads worker.ts.
    const worker = new Worker(new URL('./ts-worker.mjs', import.meta.url), { workerData: { entry: new URL('./worker.ts', import.meta.url).href } });
    worker.on('message', (reply: Reply) => {
      const job = this.waiting.get(reply.id);
      if (!job) return;
      if (reply.stage) {
        Promise.resolve(job.onStage(reply.stage)).catch(() => undefined);
        return;
      }
      this.waiting.delete(reply.id);
      if (reply.result) job.resolve(reply.result);
      else job.reject(new Error(reply.error ?? 'the pipeline worker failed'));
    });
    const fail = (error: Error) => {
      for (const job of this.waiting.values()) job.reject(error);
      this.waiting.clear();
      this.worker = undefined;
      this.sent = new WeakMap(); // a new worker has no calibration yet
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the pipeline worker exited (${code})`)));
    this.worker = worker;
    return worker;
  }

  run(input: { rows: number; columns: number; raw: Uint16Array; calibration: DetectorCalibration; targetEi: number }, onStage: (s: Stage) => void | Promise<void>): Promise<PipelineResult> {
    const worker = this.start();
    let key = this.sent.get(input.calibration);
    if (!key) {
      key = `calibration-${(this.calibrationCount += 1)}`;
      const message: WorkerRequest = { type: 'calibration', key, calibration: input.calibration };
      worker.postMessage(message);
      this.sent.set(input.calibration, key);
    }
    const id = this.nextId++;
    const request: WorkerRequest = { type: 'run', id, key, rows: input.rows, columns: input.columns, raw: input.raw, targetEi: input.targetEi };
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { onStage, resolve, reject });
      worker.postMessage(request, [input.raw.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }
}
