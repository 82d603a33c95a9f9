import { randomBytes } from 'node:crypto';
import { CompiledQuery, sql, type Selectable } from 'kysely';
import type { AuditLogsTable } from '../../db/schema.js';
import type { Db, RunInTransaction } from '../../db/index.js';
import { likePattern } from '../../db/sql.js';
import { actionMatch } from './action-names.js';
import { GENESIS, hashTail, rowHash, type AuditRecord } from '../../db/audit-chain.js';
import { outsideRequest } from '../../util/request-context.js';

export type AuditRow = Selectable<AuditLogsTable>;
export type { AuditRecord };

export interface AuditFilter {
  userId?: number;
  username?: string;
  action?: string;
  resourceType?: string;
  resourceId?: string;
  outcome?: 'success' | 'failure';
  source?: string;
  requestId?: string;
  search?: string;
  from?: string;
  to?: string;
  order: 'asc' | 'desc';
  limit: number;
  offset: number;
}

/** The outcome of walking the chain: every row checked, or the first row that does not hold. */
export type ChainVerdict = { ok: true; rows: number } | { ok: false; rows: number; brokenId: number; reason: string };

const VERIFY_BATCH = 1000;
/** Rows committed together at most (a transaction stays short). */
const GROUP_COMMIT_MAX = 64;

/** The rows for audit_chain_append: each with the text its hash covers after the previous hash. */
function chainPayload(rows: AuditRecord[]): string {
  return JSON.stringify(rows.map((row) => ({ ...row, hash_tail: hashTail(row) })));
}

/** A PostgreSQL dollar-quoted literal of `text`, its tag one the text does not contain. */
function dollarQuoted(text: string): string {
  for (;;) {
    const tag = `$a${randomBytes(8).toString('hex')}$`;
    if (!text.includes(tag)) return `${tag}${text}${tag}`;
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error('audit append failed', { cause: error });
}

export class AuditRepository {
  constructor(private readonly sql: Db) {}

  /** Rows waiting for the next group commit, each with its caller's promise. */
  private readonly waiting: { row: AuditRecord; resolve: () => void; reject: (error: Error) => void }[] = [];
  private flushing = false;

  /**
   * Appends one row to the chain. With `run` it goes into the caller's open transaction (the
   * change it records commits with it or not at all). Otherwise it is committed in a transaction
   * of its own, shared with the rows other callers appended meanwhile (group commit: on
   * PostgreSQL every chain append holds one lock through its commit's WAL flush, so under load
   * one flush for many rows is what keeps writes from queuing behind each other); it resolves
   * once its row is committed. On PostgreSQL appends are serialized by a transaction-scoped
   * advisory lock, so two transactions never link to the same previous row; SQLite has one writer.
   */
  async append(row: AuditRecord, run?: RunInTransaction): Promise<void> {
    if (run) return this.appendWith(run, [row]);
    await new Promise<void>((resolve, reject) => {
      this.waiting.push({ row, resolve, reject });
      // Outside the caller's request: the loop serves later callers too.
      if (!this.flushing) void outsideRequest(() => this.flush());
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0, GROUP_COMMIT_MAX);
        try {
          await this.commitRows(batch.map((b) => b.row));
          for (const b of batch) b.resolve();
        } catch (error) {
          if (batch.length === 1) {
            batch[0]?.reject(asError(error));
            continue;
          }
          // One row the database refuses must not take the others with it: each alone, in order.
          for (const b of batch) {
            try {
              await this.commitRows([b.row]);
              b.resolve();
            } catch (single) {
              b.reject(asError(single));
            }
          }
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async commitRows(rows: AuditRecord[]): Promise<void> {
    // On PostgreSQL one statement is its own transaction: lock, append and commit in one round trip.
    if (this.sql.dialect === 'postgres') await sql`select audit_chain_append(${chainPayload(rows)}::json)`.execute(this.sql.kysely);
    else await this.sql.kysely.transaction().execute((trx) => this.appendWith((q) => trx.executeQuery(q), rows));
  }

  private async appendWith(run: RunInTransaction, rows: AuditRecord[]): Promise<void> {
    const kysely = this.sql.kysely;
    if (this.sql.dialect === 'postgres') {
      // Lock, read of the last hash, inserts and COMMIT in one round trip (migration 015): the
      // chain lock is held until COMMIT, and every round trip under it waited for the event loop.
      // The rows go as a literal: a statement sent with COMMIT takes no parameters.
      await run(CompiledQuery.raw(`select audit_chain_append(${dollarQuoted(chainPayload(rows))}::json)`), { commit: true });
      return;
    }
    const last = await run(kysely.selectFrom('audit_logs').select('hash').orderBy('id', 'desc').limit(1).compile());
    let prevHash = (last.rows[0] as { hash: string | null } | undefined)?.hash ?? GENESIS;
    // One statement per row, in chain order: the ids then follow the chain.
    for (const row of rows) {
      const hash = rowHash(prevHash, row);
      await run(
        kysely
          .insertInto('audit_logs')
          .values({ ...row, prev_hash: prevHash, hash })
          .compile(),
      );
      prevHash = hash;
    }
  }

  /** Walks the chain in id order and names the first row whose link or hash does not hold. */
  async verify(): Promise<ChainVerdict> {
    let prevHash = GENESIS;
    let rows = 0;
    for (let after = 0; ;) {
      const batch = await this.sql.kysely
        .selectFrom('audit_logs')
        .selectAll()
        .where('id', '>', after)
        .orderBy('id')
        .limit(VERIFY_BATCH)
        .execute();
      if (batch.length === 0) return { ok: true, rows };
      for (const row of batch) {
        if ((row.prev_hash ?? GENESIS) !== prevHash)
          return { ok: false, rows, brokenId: row.id, reason: 'its link to the previous row does not match' };
        const expected = rowHash(prevHash, row);
        if (row.hash !== expected) return { ok: false, rows, brokenId: row.id, reason: 'its content does not match its hash' };
        prevHash = expected;
        rows += 1;
      }
      after = batch[batch.length - 1]?.id ?? after;
    }
  }

  /** Rows in chain order from `from` to `to` (inclusive), at most `limit`. */
  async range(from: string | undefined, to: string | undefined, limit: number): Promise<AuditRow[]> {
    let query = this.sql.kysely.selectFrom('audit_logs').selectAll();
    if (from) query = query.where('created_at', '>=', from);
    if (to) query = query.where('created_at', '<=', to);
    return query.orderBy('id').limit(limit).execute();
  }

  async list(filter: AuditFilter): Promise<{ rows: AuditRow[]; total: number }> {
    let query = this.sql.kysely.selectFrom('audit_logs');
    if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
    if (filter.username) query = query.where('username', '=', filter.username);
    if (filter.action) {
      const match = actionMatch(filter.action);
      query = query.where((eb) =>
        eb.or([
          ...(match.exact.length ? [eb('action', 'in', match.exact)] : []),
          ...match.suffixes.map((suffix) => eb('action', 'like', `%.${suffix}`)),
          ...match.methods.map((method) => eb('action', 'like', `${method} /%`)),
        ]),
      );
    }
    if (filter.resourceType) query = query.where('resource_type', '=', filter.resourceType);
    if (filter.resourceId) query = query.where('resource_id', '=', filter.resourceId);
    if (filter.outcome) query = query.where('outcome', '=', filter.outcome);
    if (filter.source) query = query.where('source', '=', filter.source);
    if (filter.requestId) query = query.where('request_id', '=', filter.requestId);
    if (filter.from) query = query.where('created_at', '>=', filter.from);
    if (filter.to) query = query.where('created_at', '<=', filter.to);
    if (filter.search) {
      const pattern = likePattern(filter.search);
      query = query.where((eb) =>
        eb.or([
          this.sql.ilike(eb.ref('action'), pattern),
          this.sql.ilike(eb.ref('path'), pattern),
          this.sql.ilike(eb.ref('username'), pattern),
          this.sql.ilike(eb.ref('detail'), pattern),
        ]),
      );
    }
    const total = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await query
      .selectAll()
      .orderBy('created_at', filter.order)
      .orderBy('id', filter.order)
      .limit(filter.limit)
      .offset(filter.offset)
      .execute();
    return { rows, total: total.n };
  }

  async countSince(since: string, action?: string): Promise<number> {
    let query = this.sql.kysely
      .selectFrom('audit_logs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('created_at', '>=', since);
    if (action) query = query.where('action', '=', action);
    return (await query.executeTakeFirstOrThrow()).n;
  }
}
