import { createHash } from 'node:crypto';
import type { Insertable } from 'kysely';
import type { AuditLogsTable } from './schema.js';

/** The audit row as written, before the chain fields. */
export type AuditRecord = Omit<Insertable<AuditLogsTable>, 'id' | 'prev_hash' | 'hash'>;

/** The fields the hash covers, in a fixed order (the canonical form of a row). */
const HASHED_FIELDS = [
  'created_at',
  'user_id',
  'username',
  'action',
  'resource_type',
  'resource_id',
  'method',
  'path',
  'status_code',
  'outcome',
  'source',
  'ip',
  'request_id',
  'detail',
] as const;

/** The hash before the first row of the chain. */
export const GENESIS = '';

/**
 * sha256 over the previous row's hash and this row's fields as a JSON array in a fixed order:
 * changing, removing or reordering a row breaks every later link. The id is left out so a row
 * can be hashed before the database numbers it. `session_id` (migration 014) is appended when set;
 * clearing it on a row breaks that row's hash like any other change.
 */
export function rowHash(prevHash: string, row: AuditRecord): string {
  return createHash('sha256')
    .update(JSON.stringify([prevHash, ...hashedFields(row)]))
    .digest('hex');
}

function hashedFields(row: AuditRecord): unknown[] {
  const fields: unknown[] = HASHED_FIELDS.map((name) => {
    const value = row[name];
    return value === undefined ? null : value;
  });
  // Added by migration 014: covered only when set, so rows written before it hash as they did.
  if (row.session_id !== undefined && row.session_id !== null) fields.push(['session_id', row.session_id]);
  return fields;
}

/**
 * The hashed text after its previous hash: `rowHash(prev, row)` is sha256 over
 * `'["' + prev + '",' + hashTail(row)` (a hash is hex, so it needs no JSON escaping). Lets
 * PostgreSQL link a row to a previous hash it reads itself (migration 015's audit_chain_append).
 */
export function hashTail(row: AuditRecord): string {
  return JSON.stringify(hashedFields(row)).slice(1);
}
