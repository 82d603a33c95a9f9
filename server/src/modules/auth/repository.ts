import type { Selectable } from 'kysely';
import type { Db } from '../../db/index.js';
import type { AuthSessionsTable } from '../../db/schema.js';
import { nowIso } from '../../util/time.js';

export type SessionRow = Selectable<AuthSessionsTable>;

/** Sessions (migration 011): one row per login or guest token; its tokens live and die with it. */
export class SessionsRepository {
  constructor(private readonly sql: Db) {}

  async create(row: Omit<SessionRow, 'revoked_at' | 'revoked_reason'>): Promise<void> {
    await this.sql.kysely
      .insertInto('auth_sessions')
      .values({ ...row, revoked_at: null, revoked_reason: '' })
      .execute();
  }

  async get(id: string): Promise<SessionRow | undefined> {
    return this.sql.kysely.selectFrom('auth_sessions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * Moves the session's refresh family on to `next` if `current` is still its newest token.
   * False when another exchange got there first (the presented token was already used).
   */
  async rotateRefresh(id: string, current: string, next: string, expiresAt: string): Promise<boolean> {
    const result = await this.sql.kysely
      .updateTable('auth_sessions')
      .set({ refresh_jti: next, expires_at: expiresAt })
      .where('id', '=', id)
      .where('refresh_jti', '=', current)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async revoke(id: string, reason: string): Promise<void> {
    await this.sql.kysely
      .updateTable('auth_sessions')
      .set({ revoked_at: nowIso(), revoked_reason: reason })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .execute();
  }

  /** Revokes every live session of a user; returns their ids. */
  async revokeAllOf(userId: number, reason: string): Promise<string[]> {
    const live = await this.sql.kysely
      .selectFrom('auth_sessions')
      .select('id')
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', nowIso())
      .execute();
    if (live.length === 0) return [];
    const ids = live.map((r) => r.id);
    await this.sql.kysely
      .updateTable('auth_sessions')
      .set({ revoked_at: nowIso(), revoked_reason: reason })
      .where('id', 'in', ids)
      .where('revoked_at', 'is', null)
      .execute();
    return ids;
  }

  /** Drops sessions that ended more than a day ago; their tokens can no longer be presented successfully. */
  async purgeEnded(): Promise<number> {
    const cutoff = new Date(Date.now() - 24 * 3600_000).toISOString();
    const result = await this.sql.kysely.deleteFrom('auth_sessions').where('expires_at', '<', cutoff).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
