import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { nowIso } from '../../util/time.js';
import type { SecretKey } from './secret-key.js';

/** Stored values start with this; anything else is a clear value from before encryption at rest. */
const SEALED = 'enc:v1:';
const IV_BYTES = 12;

export class SecretKeyMismatchError extends Error {}

/**
 * Secrets generated once and shared by every process on the database (`server_secrets`). A key
 * kept in the data directory would break the scale-out shape (two API processes on one PostgreSQL
 * would sign with different keys), so it lives in the database, sealed with AES-256-GCM under the
 * secret key (secret-key.ts), which does not: the database alone (a backup, a copied file) does
 * not reveal it. The secret's name is the authenticated data, so rows cannot be swapped.
 * Every process on one database needs the same secret key.
 */
export class SecretsRepository {
  constructor(
    private readonly db: Db,
    private readonly key: SecretKey,
  ) {}

  private seal(name: string, value: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key.key, iv).setAAD(Buffer.from(name, 'utf8'));
    const sealed = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return `${SEALED}${iv.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}.${sealed.toString('base64url')}`;
  }

  private open(name: string, stored: string): string {
    if (!stored.startsWith(SEALED)) return stored;
    const [iv = '', tag = '', sealed = ''] = stored.slice(SEALED.length).split('.');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key.key, Buffer.from(iv, 'base64url'))
        .setAAD(Buffer.from(name, 'utf8'))
        .setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(sealed, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretKeyMismatchError(
        `the server secret "${name}" in the database was sealed with another secret key than ${this.key.origin}; ` +
          'give every process on this database the same ROENTGEN_SECRET_KEY or ROENTGEN_SECRET_KEY_FILE',
      );
    }
  }

  /** The secret `name`, made by `generate` on the first call of any process. */
  async getOrCreate(name: string, generate: () => string): Promise<string> {
    await this.db.kysely
      .insertInto('server_secrets')
      .values({ name, value: this.seal(name, generate()), created_at: nowIso() })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const row = await this.db.kysely.selectFrom('server_secrets').select('value').where('name', '=', name).executeTakeFirstOrThrow();
    return this.open(name, row.value);
  }

  /**
   * Seals every secret still stored in clear (written before secrets were encrypted at rest).
   * Compare-and-set, so two processes starting at once seal each value once. Returns their names.
   */
  async sealClearValues(): Promise<string[]> {
    const rows = await this.db.kysely.selectFrom('server_secrets').select(['name', 'value']).execute();
    const clear = rows.filter((row) => !row.value.startsWith(SEALED));
    if (clear.length === 0) return [];
    const sqlite = this.db.dialect === 'sqlite';
    // SQLite keeps overwritten bytes in the page and the WAL: zero them, and empty the WAL after.
    if (sqlite) await sql`PRAGMA secure_delete = ON`.execute(this.db.kysely);
    try {
      for (const row of clear) {
        await this.db.kysely
          .updateTable('server_secrets')
          .set({ value: this.seal(row.name, row.value) })
          .where('name', '=', row.name)
          .where('value', '=', row.value)
          .execute();
      }
      if (sqlite) await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(this.db.kysely);
      // PostgreSQL keeps the old row versions until the table is rewritten (a handful of rows).
      else await sql`VACUUM FULL server_secrets`.execute(this.db.kysely).catch(() => undefined);
    } finally {
      if (sqlite) await sql`PRAGMA secure_delete = OFF`.execute(this.db.kysely);
    }
    return clear.map((row) => row.name);
  }

  /** Replaces the secret `name` (rotation): whatever was signed or derived with the old value stops working. */
  async replace(name: string, value: string): Promise<void> {
    await this.db.kysely
      .insertInto('server_secrets')
      .values({ name, value: this.seal(name, value), created_at: nowIso() })
      .onConflict((oc) => oc.column('name').doUpdateSet({ value: this.seal(name, value), created_at: nowIso() }))
      .execute();
  }
}

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}
