import { randomUUID } from 'node:crypto';
import type { JobState } from '../../db/schema.js';
import type { Executor } from '../../db/index.js';
import type { AttemptEnd, JobKind, RunningJob } from './kinds.js';
import { retryDelay } from './kinds.js';
import type { JobRow, JobsRepository } from './repository.js';
import { outsideRequest } from '../../util/request-context.js';

/*
 * The job runner: durable background work over the `jobs` table, one polling loop for every kind.
 *
 * Adding a kind (AI analysis, report rendering, notification delivery, ...):
 *
 *   const reportKind = defineJobKind<{ studyPk: number }>({
 *     name: 'report.render', concurrency: 2, maxAttempts: 5, leaseMs: 60_000,
 *     backoff: { baseMs: 10_000, maxMs: 600_000 },
 *     async run([job]) { await render(job.payload.studyPk); },  // returns: done; throws: retried
 *   });
 *   runner.register(reportKind);                                   // before start()
 *   await runner.enqueue(reportKind, [{ studyPk }], { keys: [key], trx });  // trx: inside the caller's transaction;
 *   runner.kick();                                                  // then, after the commit, look now
 *
 * A job is claimed with a lease held as `<node id>/<boot id>` and renewed while it runs; a job
 * whose process died is taken again when its lease runs out, or at once when the same node
 * restarts (start() releases what its earlier run held). Failed attempts wait an exponential
 * back-off (kinds.ts retryDelay) and end as failed after the kind's max attempts; a job claimed
 * once more than that (it crashed the process each time) fails without running. cancel() stops
 * a queued job at once and aborts a running one's signal. Handlers must tolerate running a job
 * again after a crash (at-least-once); exactly-once effects come from idempotent handlers.
 */

export interface JobRunnerOptions {
  /** This installation (util/node-id.ts). */
  node: string;
  /** Longest wait between looks at the queue (other processes' jobs, leases run out). */
  pollMs: number;
  /** Wait while a kind says it is not ready. */
  notReadyMs?: number;
  log?: (message: string) => void;
}

interface InFlight {
  kind: JobKind<unknown>;
  controller: AbortController;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class JobRunner {
  private readonly kinds = new Map<string, JobKind<unknown>>();
  private readonly inFlight = new Map<number, InFlight>();
  private readonly runs = new Set<Promise<void>>();
  private readonly listeners = new Set<(end: AttemptEnd) => void>();
  /** Who holds this process's leases. */
  readonly owner: string;
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private started = false;
  /** Set once start() has released and recovered: only then does the loop claim. */
  private looping = false;
  private stopped = false;

  constructor(
    private readonly repo: JobsRepository,
    private readonly options: JobRunnerOptions,
  ) {
    this.owner = `${options.node}/${randomUUID()}`;
  }

  register<P>(kind: JobKind<P>): void {
    if (this.started) throw new Error(`job kind ${kind.name} registered after start`);
    if (this.kinds.has(kind.name)) throw new Error(`job kind ${kind.name} registered twice`);
    this.kinds.set(kind.name, kind as JobKind<unknown>);
  }

  /** Queues jobs of a kind; with `trx` they exist only if the caller's transaction commits. Returns the new ids (a taken key adds none). */
  async enqueue<P>(
    kind: JobKind<P>,
    payloads: P[],
    options: { keys?: (string | null)[]; runAt?: string; trx?: Executor } = {},
  ): Promise<number[]> {
    const now = iso(Date.now());
    const ids = await this.repo.insert(
      payloads.map((p, i) => ({
        queue: kind.name,
        payload: JSON.stringify(p),
        job_key: options.keys?.[i] ?? null,
        run_at: options.runAt ?? now,
      })),
      now,
      options.trx,
    );
    if (!options.trx) this.kick();
    return ids;
  }

  /** Hears of every attempt's end in this process; returns the unsubscribe. */
  onAttemptEnd(listener: (end: AttemptEnd) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Releases what this node's earlier run held, lets kinds recover, then works the queue. */
  async start(): Promise<void> {
    this.started = true;
    this.stopped = false;
    const released = await this.repo.releaseInterrupted(this.options.node, this.owner, iso(Date.now()));
    if (released > 0) this.options.log?.(`jobs: ${released} job(s) interrupted by the last stop are due again`);
    for (const kind of this.kinds.values()) await kind.recover?.();
    const beat = Math.max(250, Math.min(60_000, ...[...this.kinds.values()].map((k) => k.leaseMs / 3)));
    this.heartbeat = setInterval(() => {
      void this.renewLeases();
    }, beat);
    this.heartbeat.unref();
    this.looping = true;
    this.schedule(0);
  }

  /** Stops claiming and waits for the jobs in hand; what is queued stays for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.looping = false;
    clearTimeout(this.timer);
    await this.ticking;
    while (this.runs.size > 0) await Promise.allSettled([...this.runs]);
    clearInterval(this.heartbeat);
  }

  /** Something was queued or a slot freed: look now rather than at the next poll. */
  kick(): void {
    if (this.ticking) this.again = true;
    else this.schedule(0);
  }

  /** Waits until no job of the kind is due or running (tests, benches). */
  async drain(kindName: string): Promise<void> {
    for (;;) {
      if (!this.looping) return;
      const busy = [...this.inFlight.values()].some((f) => f.kind.name === kindName);
      if (!busy && (await this.repo.outstanding(kindName, iso(Date.now()))) === 0) return;
      this.kick();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Cancels a job (see JobsRepository.cancel); a running one of this process is aborted now. */
  async cancel(id: number): Promise<JobState | undefined> {
    const state = await this.repo.cancel(id, iso(Date.now()));
    this.inFlight.get(id)?.controller.abort();
    return state;
  }

  /** Runs a finished job again now, attempts counted afresh; false when it is running. */
  async requeue(id: number): Promise<boolean> {
    const done = await this.repo.requeue(id, iso(Date.now()));
    if (done) this.kick();
    return done;
  }

  private schedule(ms: number): void {
    if (!this.looping) return;
    clearTimeout(this.timer);
    // Outside any request: a request that queued a job woke the loop, it does not own it (nor the audit rows of its writes).
    this.timer = setTimeout(
      () =>
        outsideRequest(() => {
          this.ticking = this.tick().finally(() => {
            this.ticking = undefined;
          });
        }),
      ms,
    );
    this.timer.unref();
  }

  private inFlightOf(kind: JobKind<unknown>): number {
    let n = 0;
    for (const f of this.inFlight.values()) if (f.kind === kind) n += 1;
    return n;
  }

  private async tick(): Promise<void> {
    let waitingForReady = false;
    try {
      do {
        this.again = false;
        for (const kind of this.kinds.values()) {
          if (this.stopped) return;
          if (kind.ready && !kind.ready()) {
            waitingForReady = true;
            continue;
          }
          const free = kind.concurrency - this.inFlightOf(kind);
          if (free <= 0) continue;
          const now = Date.now();
          const claimed = await this.repo.claim(kind.name, iso(now), iso(now + kind.leaseMs), free, this.owner);
          if (claimed.length > 0) this.launch(kind, claimed);
        }
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() sets it while this loop awaits
      } while (this.again && !this.stopped);
    } catch (error) {
      // The database was unreachable for a moment: the next poll tries again.
      this.options.log?.(`jobs: claiming failed (${(error as Error).message})`);
    }
    let wait = this.options.pollMs;
    const open = [...this.kinds.values()].filter((k) => this.inFlightOf(k) < k.concurrency && (!k.ready || k.ready())).map((k) => k.name);
    const next = await this.repo.nextRunAt(open).catch(() => undefined);
    if (next) wait = Math.min(wait, Math.max(0, Date.parse(next) - Date.now()));
    if (waitingForReady) wait = Math.min(wait, this.options.notReadyMs ?? 250);
    this.schedule(wait);
  }

  private launch(kind: JobKind<unknown>, rows: JobRow[]): void {
    const groups = new Map<string, JobRow[]>();
    for (const row of rows) {
      if (row.attempts > kind.maxAttempts) {
        // Claimed again after its last attempt died with the process: it does not get another.
        const job = this.handle(kind, row, new AbortController());
        void job.fail(`${row.last_error ?? 'interrupted'} (gave up after ${row.attempts - 1} attempts)`).catch(() => undefined);
        continue;
      }
      const key = kind.groupBy ? kind.groupBy(JSON.parse(row.payload) as unknown) : `#${row.id}`;
      groups.set(key, [...(groups.get(key) ?? []), row]);
    }
    for (const group of groups.values()) {
      const run = this.runGroup(kind, group).finally(() => {
        this.runs.delete(run);
        this.kick();
      });
      this.runs.add(run);
    }
  }

  private async runGroup(kind: JobKind<unknown>, rows: JobRow[]): Promise<void> {
    const jobs = rows.map((row) => {
      const controller = new AbortController();
      this.inFlight.set(row.id, { kind, controller });
      return this.handle(kind, row, controller);
    });
    let thrown: unknown;
    try {
      await kind.run(jobs);
    } catch (error) {
      thrown = error;
    }
    for (const job of jobs) {
      if (job.settled) continue;
      const end =
        thrown === undefined
          ? job.complete()
          : job.signal.aborted
            ? job.end('cancelled', 'cancelled', '')
            : // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a job may throw anything; its text is the best we have
              job.retry(thrown instanceof Error ? thrown.message : String(thrown));
      await end.catch((error: unknown) => this.options.log?.(`jobs: recording job ${job.id} failed (${(error as Error).message})`));
    }
    for (const row of rows) this.inFlight.delete(row.id);
  }

  private handle(
    kind: JobKind<unknown>,
    row: JobRow,
    controller: AbortController,
  ): RunningJob<unknown> & { settled: boolean; end: (state: JobState, error: string, result: string) => Promise<void> } {
    const { repo, owner, listeners } = this;
    const job = {
      id: row.id,
      key: row.job_key,
      payload: JSON.parse(row.payload) as unknown,
      attempts: row.attempts,
      signal: controller.signal,
      settled: false,
      progress: (fraction: number) => repo.progress(row.id, owner, Math.min(1, Math.max(0, fraction)), iso(Date.now())),
      complete: (result = '') => job.end('done', '', result),
      fail: (error: string, result = '') => job.end('failed', error, result),
      async retry(error: string, result = '') {
        if (row.attempts >= kind.maxAttempts) return job.end('failed', `${error} (gave up after ${row.attempts} attempts)`, result);
        return job.end('queued', error, result, iso(Date.now() + retryDelay(row.attempts, kind.backoff)));
      },
      async end(state: JobState, error: string, result: string, runAt?: string) {
        if (job.settled) return;
        job.settled = true;
        const now = iso(Date.now());
        const finished = state !== 'queued';
        const held = await repo.settle(row.id, owner, {
          state,
          last_error: error,
          result,
          updated_at: now,
          ...(finished ? { completed_at: now } : {}),
          ...(runAt ? { run_at: runAt } : {}),
          ...(state === 'done' ? { progress: 1 } : {}),
        });
        if (!held) return; // another runner took the job over after our lease ran out: its outcome counts
        if (state === 'done' && kind.removeWhenDone) await repo.delete(row.id);
        await kind.afterAttempt?.(job, state);
        for (const listener of listeners) listener({ kind: kind.name, id: row.id, key: row.job_key, state, error, result });
      },
    };
    return job;
  }

  private async renewLeases(): Promise<void> {
    const byKind = new Map<JobKind<unknown>, number[]>();
    for (const [id, f] of this.inFlight) byKind.set(f.kind, [...(byKind.get(f.kind) ?? []), id]);
    for (const [kind, ids] of byKind) {
      try {
        const cancelled = await this.repo.renew(ids, iso(Date.now() + kind.leaseMs), this.owner);
        for (const id of cancelled) this.inFlight.get(id)?.controller.abort();
      } catch {
        // The database was away for a moment; the lease is renewed well before it runs out.
      }
    }
  }
}
