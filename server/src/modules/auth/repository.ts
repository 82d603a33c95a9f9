import { sql, type Selectable } from 'kysely';
import type { Db } from '../../db/index.js';
import type { AuthSessionsTable } from '../../db/schema.js';
import { nowIso } from '../../util/time.js';

export type SessionRow = Selectable<AuthSessionsTable>;

/** What a request's token stands for, read in one query: its session, its live user, their roles and permissions. */
export interface SessionCredentials {
  sessionId: string;
  sessionUserId: number;
  revokedAt: string | null;
  expiresAt: string;
  /** Undefined when the account is deleted (or never existed). */
  user?: { id: number; username: string; tokenVersion: number; isActive: boolean };
  roles: string[];
  permissions: string[];
}

/** Tables whose rows decide what a token may do: a write to any of them may revoke or narrow one. */
export const CREDENTIAL_TABLES: readonly string[] = ['auth_sessions', 'users', 'user_roles', 'roles', 'role_permissions'];

/** A JSON array column as the driver hands it back (pg parses json, SQLite returns text). */
function stringArray(value: unknown): string[] {
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === 'string').sort() : [];
}

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
   * The session `id` with the live account `userId` (the token's claims), its role names and its
   * permissions, in one round trip: the auth hook runs this for every request it cannot answer
   * from its cache.
   */
  async credentials(id: string, userId: number): Promise<SessionCredentials | undefined> {
    const agg = (column: string) =>
      this.sql.dialect === 'postgres'
        ? sql.raw(`coalesce(json_agg(distinct ${column}), '[]'::json)`)
        : sql.raw(`json_group_array(distinct ${column})`);
    const row = await this.sql.kysely
      .selectFrom('auth_sessions as s')
      .leftJoin('users as u', (join) => join.on('u.id', '=', userId).on('u.deleted_at', 'is', null))
      .select([
        's.id as session_id',
        's.user_id as session_user_id',
        's.revoked_at',
        's.expires_at',
        'u.id as user_id',
        'u.username',
        'u.token_version',
        'u.is_active',
      ])
      .select((eb) => [
        eb
          .selectFrom('user_roles as ur')
          .innerJoin('roles as r', 'r.id', 'ur.role_id')
          .select(sql`${agg('r.name')}`.as('names'))
          .whereRef('ur.user_id', '=', 'u.id')
          .as('roles'),
        eb
          .selectFrom('user_roles as ur')
          .innerJoin('role_permissions as rp', 'rp.role_id', 'ur.role_id')
          .select(sql`${agg('rp.permission')}`.as('names'))
          .whereRef('ur.user_id', '=', 'u.id')
          .as('permissions'),
      ])
      .where('s.id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      sessionId: row.session_id,
      sessionUserId: row.session_user_id,
      revokedAt: row.revoked_at,
      expiresAt: row.expires_at,
      user:
        row.user_id === null || row.username === null || row.token_version === null || row.is_active === null
          ? undefined
          : { id: row.user_id, username: row.username, tokenVersion: row.token_version, isActive: row.is_active === 1 },
      roles: row.user_id === null ? [] : stringArray(row.roles),
      permissions: row.user_id === null ? [] : stringArray(row.permissions),
    };
  }

  /** Calls `listener` once a write to a credential table (`CREDENTIAL_TABLES`) made in this process has committed. */
  onCredentialsWritten(listener: () => void): void {
    this.sql.onCommittedWrite((tables) => {
      if (CREDENTIAL_TABLES.some((t) => tables.has(t))) listener();
    });
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
