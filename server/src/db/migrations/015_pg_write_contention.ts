import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../index.js';

/** Counter rows per (recycle bin, status) on PostgreSQL; enough that a pool's connections rarely share one. */
export const STUDY_COUNT_SLOTS = 16;

/**
 * Two locks every PostgreSQL write transaction queued on (issue 16), each held across round
 * trips to a busy Node process, shortened. SQLite has one writer at a time: nothing changes there.
 *
 * Study counters. Migration 002's trigger added to one row per (bin, status) and held that row's
 * lock until its transaction committed, so every registration (all 'Arrived', not in the bin)
 * queued behind every other: under 100 clients the lock-wait log named "study_counts" in 153 of
 * 157 waits over 100 ms. Each (bin, status) now has up to STUDY_COUNT_SLOTS rows; a connection
 * takes one slot for its life (a sequence hands them out in turn, so a pool of up to that many
 * connections never shares one) and adds or subtracts there. A slot's row may go negative (a study
 * counted in one slot, binned through another); the sum over the slots, which is what readers
 * take, stays exact. Existing totals move to slot 0.
 *
 * Audit chain. Appending took the chain's advisory lock, read the last hash, inserted the row and
 * committed: three round trips under the lock, each waiting for the event loop. audit_chain_append
 * does the lock, the read and the inserts in one call (the client sends each row's hashed text
 * after its previous hash, `hashTail` in db/audit-chain.ts; the function links and hashes it with
 * sha256 exactly as `rowHash` does), so the lock spans one round trip and the commit. Each of its
 * statements takes a fresh snapshot (read committed), so the read after the lock sees the row the
 * previous holder committed.
 */
export function pgWriteContention(dialect: DialectName) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      if (dialect !== 'postgres') return;
      // The migration's transaction holds ACCESS EXCLUSIVE on the table from here: no count moves meanwhile.
      await sql`alter table study_counts add column slot integer not null default 0`.execute(db);
      await sql`alter table study_counts drop constraint study_counts_pk`.execute(db);
      await sql`alter table study_counts add constraint study_counts_pk primary key (in_bin, study_status, slot)`.execute(db);
      await sql`create sequence study_counts_slot_seq`.execute(db);
      // The slot lives in a session setting; a rolled-back set_config leaves '' behind, hence nullif.
      await sql`create or replace function study_counts_track() returns trigger language plpgsql as $$
        declare
          my_slot integer := nullif(current_setting('roentgen.study_counts_slot', true), '')::integer;
        begin
          if tg_op = 'UPDATE' and (old.deleted_at is null) = (new.deleted_at is null)
             and old.study_status = new.study_status then
            return null;
          end if;
          if my_slot is null then
            my_slot := nextval('study_counts_slot_seq') % ${sql.raw(String(STUDY_COUNT_SLOTS))};
            perform set_config('roentgen.study_counts_slot', my_slot::text, false);
          end if;
          if tg_op in ('UPDATE', 'DELETE') then
            insert into study_counts (in_bin, study_status, slot, n)
              values (case when old.deleted_at is null then 0 else 1 end, old.study_status, my_slot, -1)
              on conflict (in_bin, study_status, slot) do update set n = study_counts.n - 1;
          end if;
          if tg_op in ('UPDATE', 'INSERT') then
            insert into study_counts (in_bin, study_status, slot, n)
              values (case when new.deleted_at is null then 0 else 1 end, new.study_status, my_slot, 1)
              on conflict (in_bin, study_status, slot) do update set n = study_counts.n + 1;
          end if;
          return null;
        end $$`.execute(db);

      // rows: a JSON array of audit_logs rows, each with its "hash_tail"; inserted in array order.
      await sql`create function audit_chain_append(rows json) returns void language plpgsql as $$
        declare
          prev text;
          r json;
          h text;
        begin
          perform pg_advisory_xact_lock(hashtext('roentgen.audit_logs.' || current_schema()));
          select hash into prev from audit_logs order by id desc limit 1;
          prev := coalesce(prev, '');
          for r in select value from json_array_elements(rows) loop
            h := encode(sha256(convert_to('["' || prev || '",' || (r ->> 'hash_tail'), 'UTF8')), 'hex');
            insert into audit_logs (created_at, user_id, username, action, resource_type, resource_id, method, path,
                status_code, outcome, source, ip, request_id, detail, session_id, prev_hash, hash)
              select created_at, user_id, username, action, resource_type, resource_id, method, path,
                status_code, outcome, source, ip, request_id, detail, session_id, prev, h
              from json_populate_record(null::audit_logs, r);
            prev := h;
          end loop;
        end $$`.execute(db);
    },
  };
}
