import { Worker } from 'node:worker_threads';
import type { DatabaseSettings } from '../../db/index.js';
import type { IndexOutcome } from './ingest-index.js';
import type { JournalEntry } from './ingest-journal.js';

export interface IndexWorkerData extends DatabaseSettings {
  defaultProduct: string;
}

export interface IndexRequest {
  id: number;
  entries: JournalEntry[];
  close?: boolean;
}

/** id 0 says the thread is ready. */
export interface IndexReply {
  id: number;
  outcome?: IndexOutcome;
  error?: string;
}

/**
 * The ingest indexer on its own thread (index-worker.ts). On the SCP's thread, indexing took
 * ~3 ms of CPU per small object (reading, linking, ~11 statements with the studies' search
 * triggers) against ~1 ms for the acknowledgement itself, and a sender waited behind it. A thread
 * that dies is started again at the next batch; its batch fails and stays in the journal.
 */
export class IndexWorker {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (o: IndexOutcome) => void; reject: (e: Error) => void }>();

  constructor(private readonly settings: IndexWorkerData) {}

  start(): Promise<void> {
    if (this.ready) return this.ready;
    const worker = new Worker(new URL('../../imaging/pipeline/ts-worker.mjs', import.meta.url), {
      workerData: { ...this.settings, entry: new URL('./index-worker.ts', import.meta.url).href },
    });
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (reply: IndexReply) => {
        if (reply.id === 0) {
          resolve();
          return;
        }
        const job = this.waiting.get(reply.id);
        this.waiting.delete(reply.id);
        if (reply.outcome) job?.resolve(reply.outcome);
        else job?.reject(new Error(reply.error ?? 'the index thread failed'));
      });
      const fail = (error: Error) => {
        if (this.worker !== worker) return;
        this.worker = undefined;
        this.ready = undefined;
        reject(error);
        for (const job of this.waiting.values()) job.reject(error);
        this.waiting.clear();
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`the index thread stopped (exit code ${code})`)));
    });
    // Callers see a failed start through index(); the promise itself must not go unhandled.
    this.ready.catch(() => undefined);
    return this.ready;
  }

  async index(entries: JournalEntry[]): Promise<IndexOutcome> {
    await this.start();
    const id = this.nextId++;
    return new Promise<IndexOutcome>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker!.postMessage({ id, entries } satisfies IndexRequest);
    });
  }

  /** Closes the thread's database connection and lets the thread end. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    this.ready = undefined;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ id: 0, entries: [], close: true } satisfies IndexRequest);
    const timer = setTimeout(() => void worker.terminate(), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
