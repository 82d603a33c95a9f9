import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/index.js';
import { nowIso } from '../../util/time.js';

/**
 * A secret generated once and shared by every process on the database. The design notes put
 * the generated JWT key in the data dir; that breaks the scale-out shape (two API processes on
 * one PostgreSQL would sign with different keys), so it lives in the database instead.
 */
export async function getOrCreateSecret(sql: Db, name: string, generate: () => string): Promise<string> {
  await sql.kysely.insertInto('server_secrets').values({ name, value: generate(), created_at: nowIso() })
    .onConflict((oc) => oc.column('name').doNothing()).execute();
  const row = await sql.kysely.selectFrom('server_secrets').select('value').where('name', '=', name).executeTakeFirstOrThrow();
  return row.value;
}

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}
