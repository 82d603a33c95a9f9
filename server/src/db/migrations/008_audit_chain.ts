import { sql, type Kysely } from 'kysely';
import { GENESIS, rowHash, type AuditRecord } from '../audit-chain.js';
import type { DialectName } from '../index.js';

interface Tables {
  audit_logs: AuditRecord & { id: number; prev_hash: string | null; hash: string | null };
}

const BATCH = 1000;

/**
 * The audit log becomes an append-only hash chain: each row carries the previous row's hash and
 * sha256 over it and its own fields (`db/audit-chain.ts`). Rows already there are chained in id
 * order, then triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) on both databases.
 */
export function auditChain(dialect: DialectName) {
  return {
    async up(untyped: Kysely<unknown>): Promise<void> {
      const db = untyped as unknown as Kysely<Tables>;
      await db.schema.alterTable('audit_logs').addColumn('prev_hash', 'text').execute();
      await db.schema.alterTable('audit_logs').addColumn('hash', 'text').execute();
      await db.schema.createIndex('audit_logs_request').on('audit_logs').column('request_id').execute();

      let prevHash = GENESIS;
      for (let after = 0; ;) {
        const rows = await db.selectFrom('audit_logs').selectAll().where('id', '>', after).orderBy('id').limit(BATCH).execute();
        if (rows.length === 0) break;
        for (const row of rows) {
          const hash = rowHash(prevHash, row);
          await db.updateTable('audit_logs').set({ prev_hash: prevHash, hash }).where('id', '=', row.id).execute();
          prevHash = hash;
        }
        after = rows[rows.length - 1]?.id ?? after;
      }

      if (dialect === 'postgres') {
        await sql`create or replace function audit_logs_append_only() returns trigger language plpgsql as $$
          begin raise exception 'audit_logs is append-only'; end $$`.execute(db);
        await sql`create trigger audit_logs_no_change before update or delete on audit_logs
          for each row execute function audit_logs_append_only()`.execute(db);
        await sql`create trigger audit_logs_no_truncate before truncate on audit_logs
          for each statement execute function audit_logs_append_only()`.execute(db);
      } else {
        await sql`create trigger audit_logs_no_update before update on audit_logs
          begin select raise(abort, 'audit_logs is append-only'); end`.execute(db);
        await sql`create trigger audit_logs_no_delete before delete on audit_logs
          begin select raise(abort, 'audit_logs is append-only'); end`.execute(db);
      }
    },
  };
}
