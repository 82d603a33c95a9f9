import { sql, type Insertable, type Selectable, type Updateable } from 'kysely';
import type { Db } from '../../db/index.js';
import type { JobState, JobsTable } from '../../db/schema.js';
import type { Executor } from '../../db/index.js';

export type JobRow = Selectable<JobsTable>;
export type NewJob = Pick<Insertable<JobsTable>, 'queue' | 'payload' | 'job_key' | 'run_at'>;

/** Queue figures for health: per kind and state, and the oldest due job still waiting. */
export interface QueueFigures {
  counts: { kind: string; state: JobState; n: number }[];
  /** run_at of the oldest due, queued job per kind. */
  oldestDue: { kind: string; run_at: string }[];
  /** Running jobs whose lease ran out: their process died and no runner has taken them yet. */
  staleRunning: number;
}

/** Every statement on `jobs`. Times are ISO strings, which compare as text on both databases. */
export class JobsRepository {
  constructor(private readonly sql: Db) {}

  private get db() {
    return this.sql.kysely;
  }

  /**
   * Adds jobs (in the caller's transaction when given). A job whose key its kind already holds is
   * not added again; returns the ids of the rows added.
   */
  async insert(jobs: NewJob[], now: string, trx: Executor = this.db): Promise<number[]> {
    if (jobs.length === 0) return [];
    const rows = await trx
      .insertInto('jobs')
      .values(jobs.map((j) => ({ ...j, state: 'queued' as const, attempts: 0, created_at: now, updated_at: now })))
      .onConflict((oc) => oc.columns(['queue', 'job_key']).doNothing())
      .returning('id')
      .execute();
    return rows.map((r) => r.id);
  }

  /**
   * Takes up to `limit` due jobs of one kind for `owner`: queued ones whose time has come and
   * running ones whose lease ran out (their process died). One statement, so two runners never
   * take the same row; on PostgreSQL a row another transaction is claiming is skipped, on SQLite
   * the single writer serialises claims.
   */
  async claim(kind: string, now: string, leaseUntil: string, limit: number, owner: string): Promise<JobRow[]> {
    let due = this.db
      .selectFrom('jobs')
      .select('id')
      .where('queue', '=', kind)
      .where((eb) =>
        eb.or([
          eb.and([eb('state', '=', 'queued'), eb('run_at', '<=', now)]),
          eb.and([eb('state', '=', 'running'), eb('locked_until', '<', now)]),
        ]),
      )
      .orderBy('run_at')
      .orderBy('id')
      .limit(limit);
    if (this.sql.dialect === 'postgres') due = due.forUpdate().skipLocked();
    const rows = await this.db
      .updateTable('jobs')
      .set({ state: 'running', locked_until: leaseUntil, locked_by: owner, attempts: sql<number>`attempts + 1`, updated_at: now })
      .where('id', 'in', due)
      .returningAll()
      .execute();
    return rows.sort((a, b) => (a.run_at < b.run_at ? -1 : a.run_at > b.run_at ? 1 : a.id - b.id));
  }

  /**
   * Jobs an earlier run of this node (`<node>/…`, not `owner`) held when it stopped: due again
   * now rather than when their lease runs out. Returns how many.
   */
  async releaseInterrupted(node: string, owner: string, now: string): Promise<number> {
    const result = await this.db
      .updateTable('jobs')
      .set({
        state: 'queued',
        run_at: now,
        locked_until: null,
        last_error: 'interrupted: the console stopped while this job ran',
        updated_at: now,
      })
      .where('state', '=', 'running')
      .where('locked_by', 'like', `${node}/%`)
      .where('locked_by', '<>', owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Extends `owner`'s leases; returns the ids among them a caller asked to cancel. */
  async renew(ids: number[], leaseUntil: string, owner: string): Promise<number[]> {
    if (ids.length === 0) return [];
    const rows = await this.db
      .updateTable('jobs')
      .set({ locked_until: leaseUntil })
      .where('id', 'in', ids)
      .where('state', '=', 'running')
      .where('locked_by', '=', owner)
      .returning(['id', 'cancel_requested'])
      .execute();
    return rows.filter((r) => r.cancel_requested === 1).map((r) => r.id);
  }

  /** Ends an attempt, if `owner` still holds the job (a runner that lost its lease changes nothing). */
  async settle(id: number, owner: string, values: Updateable<JobsTable>): Promise<boolean> {
    const result = await this.db
      .updateTable('jobs')
      .set({ ...values, locked_until: null })
      .where('id', '=', id)
      .where('state', '=', 'running')
      .where('locked_by', '=', owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async progress(id: number, owner: string, fraction: number, now: string): Promise<void> {
    await this.db
      .updateTable('jobs')
      .set({ progress: fraction, updated_at: now })
      .where('id', '=', id)
      .where('state', '=', 'running')
      .where('locked_by', '=', owner)
      .execute();
  }

  /** Runs a job that is not running again now, its attempts counted afresh. */
  async requeue(id: number, now: string): Promise<boolean> {
    const result = await this.db
      .updateTable('jobs')
      .set({
        state: 'queued',
        attempts: 0,
        run_at: now,
        locked_until: null,
        cancel_requested: 0,
        progress: 0,
        completed_at: null,
        updated_at: now,
      })
      .where('id', '=', id)
      .where('state', '<>', 'running')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** A queued job is cancelled at once; a running one is asked to stop (its runner sees it). Returns the state after. */
  async cancel(id: number, now: string): Promise<JobState | undefined> {
    await this.db
      .updateTable('jobs')
      .set({ state: 'cancelled', completed_at: now, updated_at: now })
      .where('id', '=', id)
      .where('state', '=', 'queued')
      .execute();
    await this.db
      .updateTable('jobs')
      .set({ cancel_requested: 1, updated_at: now })
      .where('id', '=', id)
      .where('state', '=', 'running')
      .execute();
    return (await this.byId(id))?.state;
  }

  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('jobs').where('id', '=', id).execute();
  }

  byId(id: number): Promise<JobRow | undefined> {
    return this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  byKey(kind: string, key: string): Promise<JobRow | undefined> {
    return this.db.selectFrom('jobs').selectAll().where('queue', '=', kind).where('job_key', '=', key).executeTakeFirst();
  }

  /** A kind's jobs created in [from, to], newest first. */
  list(kind: string, from: string | undefined, to: string | undefined, limit: number): Promise<JobRow[]> {
    let q = this.db.selectFrom('jobs').selectAll().where('queue', '=', kind);
    if (from) q = q.where('created_at', '>=', from);
    if (to) q = q.where('created_at', '<=', to);
    return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  }

  /** When the earliest queued job of these kinds is due (undefined: none queued). */
  async nextRunAt(kinds: string[]): Promise<string | undefined> {
    if (kinds.length === 0) return undefined;
    const row = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.min('run_at').as('next'))
      .where('queue', 'in', kinds)
      .where('state', '=', 'queued')
      .executeTakeFirst();
    return row?.next ?? undefined;
  }

  /** Jobs of a kind due now or running (for drains). */
  async outstanding(kind: string, now: string): Promise<number> {
    const row = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('queue', '=', kind)
      .where((eb) => eb.or([eb('state', '=', 'running'), eb.and([eb('state', '=', 'queued'), eb('run_at', '<=', now)])]))
      .executeTakeFirstOrThrow();
    return row.n;
  }

  async figures(now: string): Promise<QueueFigures> {
    const counts = await this.db
      .selectFrom('jobs')
      .select(['queue as kind', 'state', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy(['queue', 'state'])
      .execute();
    const oldestDue = await this.db
      .selectFrom('jobs')
      .select(['queue as kind', (eb) => eb.fn.min('run_at').as('run_at')])
      .where('state', '=', 'queued')
      .where('run_at', '<=', now)
      .groupBy('queue')
      .execute();
    const stale = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('state', '=', 'running')
      .where('locked_until', '<', now)
      .executeTakeFirstOrThrow();
    return {
      counts: counts.map((c) => ({ kind: c.kind, state: c.state, n: c.n })),
      oldestDue: oldestDue.map((o) => ({ kind: o.kind, run_at: o.run_at })),
      staleRunning: stale.n,
    };
  }
}
