import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/index.js';
import { nowIso } from '../../util/time.js';

/**
 * Secrets generated once and shared by every process on the database (`server_secrets`). A key
 * kept in the data directory would break the scale-out shape (two API processes on one PostgreSQL
 * would sign with different keys), so it lives in the database.
 */
export class SecretsRepository {
  constructor(private readonly db: Db) {}

  /** The secret `name`, made by `generate` on the first call of any process. */
  async getOrCreate(name: string, generate: () => string): Promise<string> {
    await this.db.kysely
      .insertInto('server_secrets')
      .values({ name, value: generate(), created_at: nowIso() })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const row = await this.db.kysely.selectFrom('server_secrets').select('value').where('name', '=', name).executeTakeFirstOrThrow();
    return row.value;
  }
}

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}
