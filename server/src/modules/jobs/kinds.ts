import type { JobState } from '../../db/schema.js';

/** Exponential back-off: the first retry waits `baseMs`, each next one twice as long, never more than `maxMs`. */
export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** How long a job waits before its next attempt after `attempts` failed ones (1 for the first failure). */
export function retryDelay(attempts: number, backoff: Backoff): number {
  return Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, attempts - 1));
}

/** One claimed job as its handler sees it; settle it with one of complete/retry/fail, or let the runner. */
export interface RunningJob<P> {
  readonly id: number;
  readonly key: string | null;
  readonly payload: P;
  /** This attempt's number, from 1. */
  readonly attempts: number;
  /** Aborted when a caller cancels the job. */
  readonly signal: AbortSignal;
  /** Reports how far the job is (0..1). */
  progress(fraction: number): Promise<void>;
  /** Ends the job as done; `result` is kept as its report. */
  complete(result?: string): Promise<void>;
  /** Tries again after the kind's back-off, or fails it once its attempts are spent. */
  retry(error: string, result?: string): Promise<void>;
  /** Ends the job as failed without another attempt (the error will not go away by waiting). */
  fail(error: string, result?: string): Promise<void>;
}

/**
 * A kind of job: its name (kept in the `queue` column), payload type and handler, and how the
 * runner treats it. See runner.ts for how to add one.
 */
export interface JobKind<P> {
  readonly name: string;
  /** Jobs of this kind one process runs at once. */
  readonly concurrency: number;
  /** Attempts before a job that keeps failing ends as failed. */
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  /** How long a claimed job is this process's before another may take it over (renewed while it runs). */
  readonly leaseMs: number;
  /** Finished jobs of this kind are deleted (nothing reads them), failed ones kept. */
  readonly removeWhenDone?: boolean;
  /** While this says no, the kind's due jobs wait (thumbnails while the SCP is receiving). */
  readonly ready?: () => boolean;
  /** Jobs claimed together that share this key go to one run() call (one association for a study's images). */
  readonly groupBy?: (payload: P) => string;
  /** At start, before the loop: enqueue what an earlier run left undone without a job. */
  readonly recover?: () => Promise<void>;
  /**
   * Does the work of one job, or of a group (groupBy). A job left unsettled is completed when
   * run() returns and retried when it throws (cancelled if the job's signal was aborted).
   */
  run(jobs: RunningJob<P>[]): Promise<void>;
  /** After each attempt's outcome is written, before waiters hear of it (e.g. an image's send status). */
  readonly afterAttempt?: (job: RunningJob<P>, state: JobState) => Promise<void>;
}

/** Declares a kind with its payload type (a typed handle for enqueue). */
export function defineJobKind<P>(kind: JobKind<P>): JobKind<P> {
  return kind;
}

/** What an attempt ended in, for listeners (a request waiting for a send's first attempt). */
export interface AttemptEnd {
  kind: string;
  id: number;
  key: string | null;
  /** queued: it will be tried again. */
  state: JobState;
  error: string;
  result: string;
}
