import { WorkerRpc } from '../../util/worker-rpc.js';
import { runKernel, type KernelArgs, type KernelName } from './kernels.js';
import { isShared } from './shared.js';
import type { HelperJob } from './helper.js';

/** Runs a row kernel over rows [0, rows), on one thread or split between two. */
export interface RowExecutor {
  run<K extends KernelName>(kernel: K, args: KernelArgs<K>, rows: number): Promise<void>;
}

/** Everything on the calling thread (tests, and a fallback when the helper is gone). */
export const LOCAL: RowExecutor = {
  run(kernel, args, rows) {
    runKernel(kernel, args, 0, rows);
    return Promise.resolve();
  },
};

/** Below this many rows the message round trip costs more than half the work. */
const MIN_SPLIT_ROWS = 128;

/** Every typed array a kernel gets must be shared, or the helper would write to a copy. */
function assertShared(args: object): void {
  for (const [name, value] of Object.entries(args) as [string, unknown][]) {
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
  // Idle, the helper must not keep a process alive; while it works, its reply must.
  private readonly helper = new WorkerRpc<HelperJob, void>(new URL('./helper.ts', import.meta.url), {
    name: 'the pipeline helper thread',
    unrefWhenIdle: true,
  });

  async run<K extends KernelName>(kernel: K, args: KernelArgs<K>, rows: number): Promise<void> {
    if (!this.helper.alive || rows < MIN_SPLIT_ROWS) {
      runKernel(kernel, args, 0, rows);
      return;
    }
    assertShared(args);
    const middle = rows >> 1;
    const remote = this.helper.request((id) => ({ id, kernel, args: args as never, from: middle, to: rows }));
    try {
      runKernel(kernel, args, 0, middle);
    } finally {
      await remote.catch(() => runKernel(kernel, args, middle, rows));
    }
  }

  close(): Promise<void> {
    return this.helper.close();
  }
}
