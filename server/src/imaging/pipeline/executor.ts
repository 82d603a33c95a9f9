import { Worker } from 'node:worker_threads';
import { runKernel, type KernelArgs, type KernelName } from './kernels.js';
import { isShared } from './shared.js';
import type { HelperJob } from './helper.js';

/** Runs a row kernel over rows [0, rows), on one thread or split between two. */
export interface RowExecutor {
  run<K extends KernelName>(kernel: K, args: KernelArgs<K>, rows: number): Promise<void>;
}

/** Everything on the calling thread (tests, and a fallback when the helper is gone). */
export const LOCAL: RowExecutor = {
  async run(kernel, args, rows) {
    runKernel(kernel, args, 0, rows);
  },
};

/** Below this many rows the message round trip costs more than half the work. */
const MIN_SPLIT_ROWS = 128;

/** Every typed array a kernel gets must be shared, or the helper would write to a copy. */
function assertShared(args: object): void {
  for (const [name, value] of Object.entries(args)) {
    if (ArrayBuffer.isView(value)) {
      if (!isShared(value)) throw new Error(`kernel argument ${name} is not in shared memory`);
    } else if (value && typeof value === 'object') {
      assertShared(value);
    }
  }
}

/**
 * Splits each kernel between the calling thread (top half) and one helper thread (bottom
 * half): this machine has two cores, and the pipeline's full-size stages are row-parallel. If
 * the helper fails, its half runs here and later work stays on this thread.
 */
export class SplitExecutor implements RowExecutor {
  private helper: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();

  constructor() {
    const helper = new Worker(new URL('./ts-worker.mjs', import.meta.url), { workerData: { entry: new URL('./helper.ts', import.meta.url).href } });
    helper.on('message', (reply: { id: number; error?: string }) => {
      const job = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) helper.unref();
      if (reply.error) job?.reject(new Error(reply.error));
      else job?.resolve();
    });
    const fail = (error: Error) => {
      this.helper = undefined;
      for (const job of this.waiting.values()) job.reject(error);
      this.waiting.clear();
    };
    helper.on('error', fail);
    helper.on('exit', (code) => fail(new Error(`the pipeline helper thread exited (${code})`)));
    // Idle, the helper must not keep a process alive; while it works, its reply must.
    helper.unref();
    this.helper = helper;
  }

  async run<K extends KernelName>(kernel: K, args: KernelArgs<K>, rows: number): Promise<void> {
    const helper = this.helper;
    if (!helper || rows < MIN_SPLIT_ROWS) {
      runKernel(kernel, args, 0, rows);
      return;
    }
    assertShared(args);
    const middle = rows >> 1;
    const id = this.nextId++;
    const remote = new Promise<void>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    const job: HelperJob = { id, kernel, args: args as never, from: middle, to: rows };
    helper.ref();
    helper.postMessage(job);
    try {
      runKernel(kernel, args, 0, middle);
    } finally {
      await remote.catch(() => runKernel(kernel, args, middle, rows));
    }
  }

  async close(): Promise<void> {
    const helper = this.helper;
    this.helper = undefined;
    if (helper) await helper.terminate();
  }
}
