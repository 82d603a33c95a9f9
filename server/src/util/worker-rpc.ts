import { Worker, type Transferable } from 'node:worker_threads';

/** A thread's answer to request `id`: progress on the way, then a result or an error. */
export interface RpcReply<Result, Progress = never> {
  id: number;
  progress?: Progress;
  result?: Result;
  error?: string;
}

export interface WorkerRpcOptions<Result, Progress> {
  /** Names the thread in errors ("the pipeline worker"). */
  name: string;
  /** Handed to the thread as `workerData` (with `entry` added for the loader). */
  workerData?: object;
  /** Reads a message as a reply, or undefined for one that answers no request. Default: the message is an RpcReply. */
  decode?: (message: unknown) => RpcReply<Result, Progress> | undefined;
  /** Recognises the message a thread sends when its start-up (e.g. opening a database) is done; `started` waits for it. */
  isReady?: (message: unknown) => boolean;
  /** Idle, the thread does not keep the process alive; while a request is out, its reply must. */
  unrefWhenIdle?: boolean;
}

interface Pending<Result, Progress> {
  resolve: (result: Result) => void;
  reject: (error: Error) => void;
  onProgress?: (progress: Progress) => void | Promise<void>;
}

/** Worker threads do not inherit the parent's `--import tsx` on Node 20; this JS entry registers it, then loads `entry`. */
const LOADER = new URL('./ts-worker.mjs', import.meta.url);

/**
 * Requests to one worker thread, each answered by id. When the thread fails (an uncaught error,
 * an exit) or is closed, every request still waiting is rejected and later ones are refused at
 * once: a caller that wants a fresh thread checks `alive` and makes a new WorkerRpc. Messages go
 * through postMessage unchanged, so transferred buffers and SharedArrayBuffers keep their
 * zero-copy behaviour.
 */
export class WorkerRpc<Request, Result, Progress = never> {
  /** Resolves when the thread is ready (at once without `isReady`); rejects if it fails first. */
  readonly started: Promise<void>;
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private readonly waiting = new Map<number, Pending<Result, Progress>>();
  private nextId = 1;
  private failure: Error | undefined;

  constructor(
    entry: URL,
    private readonly options: WorkerRpcOptions<Result, Progress>,
  ) {
    const worker = new Worker(LOADER, { workerData: { ...options.workerData, entry: entry.href } });
    this.worker = worker;
    this.exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const decode = options.decode ?? ((message: unknown) => message as RpcReply<Result, Progress>);
    let ready: () => void = () => undefined;
    let notReady: (error: Error) => void = () => undefined;
    this.started = options.isReady
      ? new Promise<void>((resolve, reject) => {
          ready = resolve;
          notReady = reject;
        })
      : Promise.resolve();
    // Callers see a failed start through their requests; this promise itself must not go unhandled.
    this.started.catch(() => undefined);
    worker.on('message', (message: unknown) => {
      if (options.isReady?.(message)) {
        ready();
        return;
      }
      const reply = decode(message);
      const pending = reply && this.waiting.get(reply.id);
      if (!reply || !pending) return;
      if (reply.progress !== undefined) {
        Promise.resolve(pending.onProgress?.(reply.progress)).catch(() => undefined);
        return;
      }
      this.waiting.delete(reply.id);
      this.idle();
      if (reply.error !== undefined) pending.reject(new Error(reply.error));
      else pending.resolve(reply.result as Result);
    });
    const fail = (error: Error) => {
      notReady(error);
      this.fail(error);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`${options.name} exited (code ${code})`)));
    if (options.unrefWhenIdle) worker.unref();
  }

  /** False once the thread has failed, exited or been closed. */
  get alive(): boolean {
    return this.failure === undefined;
  }

  /** Requests still waiting for their reply. */
  get pending(): number {
    return this.waiting.size;
  }

  /** Sends a message that gets no reply (state the thread keeps between requests). */
  post(message: unknown, transfer?: readonly Transferable[]): void {
    if (this.failure) throw this.failure;
    this.worker.postMessage(message, transfer);
  }

  /** Sends the request `build` makes for a fresh id; resolves with the thread's result for that id. */
  request(
    build: (id: number) => Request,
    options: { transfer?: readonly Transferable[]; onProgress?: (progress: Progress) => void | Promise<void> } = {},
  ): Promise<Result> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<Result>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, onProgress: options.onProgress });
      if (this.options.unrefWhenIdle) this.worker.ref();
      try {
        this.worker.postMessage(build(id), options.transfer);
      } catch (error) {
        this.waiting.delete(id);
        this.idle();
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /**
   * Ends the thread, rejecting what still waits. With a farewell message the thread is asked to
   * finish (close its connections) and terminated only if it has not exited within `graceMs`.
   */
  async close(farewell?: { message: unknown; graceMs: number }): Promise<void> {
    const running = this.alive;
    this.fail(new Error(`${this.options.name} was closed`));
    if (running && farewell) {
      this.worker.postMessage(farewell.message);
      const timer = setTimeout(() => void this.worker.terminate(), farewell.graceMs);
      await this.exited;
      clearTimeout(timer);
      return;
    }
    await this.worker.terminate();
  }

  private idle(): void {
    if (this.options.unrefWhenIdle && this.waiting.size === 0) this.worker.unref();
  }

  /** The first failure wins: it is what every waiting and later request is told. */
  private fail(error: Error): void {
    this.failure ??= error;
    for (const pending of this.waiting.values()) pending.reject(this.failure);
    this.waiting.clear();
  }
}
