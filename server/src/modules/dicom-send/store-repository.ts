import { sql, type Insertable, type Selectable, type Updateable } from 'kysely';
import type { Db } from '../../db/index.js';
import type { StoreTasksTable } from '../../db/schema.js';

export type StoreTaskRow = Selectable<StoreTasksTable>;

export class StoreTaskRepository {
  constructor(private readonly sql: Db) {}

  get db() {
    return this.sql.kysely;
  }

  async insert(rows: Insertable<StoreTasksTable>[]): Promise<void> {
    if (rows.length > 0) await this.db.insertInto('store_tasks').values(rows).execute();
  }

  byTaskId(taskId: string): Promise<StoreTaskRow | undefined> {
    return this.db.selectFrom('store_tasks').selectAll().where('task_id', '=', taskId).executeTakeFirst();
  }

  list(from: string | undefined, to: string | undefined): Promise<StoreTaskRow[]> {
    let q = this.db.selectFrom('store_tasks').selectAll();
    if (from) q = q.where('created_at', '>=', from);
    if (to) q = q.where('created_at', '<=', to);
    return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(1000).execute();
  }

  /**
   * Takes up to `limit` due tasks for this worker: waiting ones whose time has come and sending
   * ones whose lease ran out (their worker died). One statement, so two workers never take the
   * same row; PostgreSQL skips rows another transaction is claiming.
   */
  async claimDue(now: string, leaseUntil: string, limit: number, owner: string): Promise<StoreTaskRow[]> {
    let due = this.db.selectFrom('store_tasks').select('id')
      .where((eb) => eb.or([
        eb.and([eb('status', 'in', ['PENDING', 'RETRYING']), eb('next_attempt_at', '<=', now)]),
        eb.and([eb('status', '=', 'SENDING'), eb('locked_until', '<', now)]),
      ]))
      .orderBy('next_attempt_at').orderBy('id').limit(limit);
    if (this.sql.dialect === 'postgres') due = due.forUpdate().skipLocked();
    return this.db.updateTable('store_tasks')
      .set({ status: 'SENDING', locked_until: leaseUntil, locked_by: owner, attempts: sql<number>`attempts + 1`, updated_at: now })
      .where('id', 'in', due)
      .returningAll()
      .execute();
  }

  /**
   * Tasks an earlier run of this node (`<node>/…`, not `owner`) was sending when it stopped: due
   * again now rather than when their lease runs out. Returns how many.
   */
  async releaseInterrupted(node: string, owner: string, now: string): Promise<number> {
    const result = await this.db.updateTable('store_tasks')
      .set({ status: 'RETRYING', next_attempt_at: now, locked_until: null, last_error: 'interrupted: the console stopped while sending', updated_at: now })
      .where('status', '=', 'SENDING').where('locked_by', 'like', `${node}/%`).where('locked_by', '<>', owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async renewLease(ids: number[], leaseUntil: string): Promise<void> {
    if (ids.length > 0) await this.db.updateTable('store_tasks').set({ locked_until: leaseUntil }).where('id', 'in', ids).where('status', '=', 'SENDING').execute();
  }

  async update(id: number, values: Updateable<StoreTasksTable>): Promise<void> {
    await this.db.updateTable('store_tasks').set(values).where('id', '=', id).execute();
  }

  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('store_tasks').where('id', '=', id).execute();
  }

  /** Whether any task is waiting (for the worker's idle check). */
  async nextDue(): Promise<string | undefined> {
    const row = await this.db.selectFrom('store_tasks').select((eb) => eb.fn.min('next_attempt_at').as('next'))
      .where('status', 'in', ['PENDING', 'RETRYING']).executeTakeFirst();
    return (row?.next as string | null | undefined) ?? undefined;
  }
}
