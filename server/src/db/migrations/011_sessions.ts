import { sql, type Kysely } from 'kysely';

/**
 * Sessions: every login and every guest token is a row here, and every token names its row
 * (`sid`). Logout, a replayed refresh token or an expired session end all of that session's
 * tokens at once, access and refresh alike. A session's refresh tokens are one family: only
 * `refresh_jti` (the newest) may be exchanged; presenting an older one revokes the session.
 *
 * Studies remember the session that registered them, so a guest session sees only its own
 * emergency studies. The per-token revocation list is replaced by the sessions and dropped.
 * Thumbnails stop being public by default (private files by default; an admin may turn it back on).
 */
export function sessions() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('auth_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'integer', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .addColumn('revoked_reason', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('source_ip', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('refresh_jti', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
      await db.schema.createIndex('auth_sessions_user').on('auth_sessions').column('user_id').execute();
      await db.schema.createIndex('auth_sessions_expiry').on('auth_sessions').column('expires_at').execute();

      await db.schema.alterTable('studies').addColumn('created_session_id', 'text').execute();
      await db.schema.createIndex('studies_created_session').on('studies').column('created_session_id').execute();

      await db.schema.dropTable('revoked_tokens').execute();

      await sql`UPDATE system_configs SET config_value = 'false' WHERE config_key = 'files.public_thumbnails' AND config_value = 'true'`.execute(
        db,
      );
    },
  };
}
