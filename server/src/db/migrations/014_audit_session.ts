import type { Kysely } from 'kysely';

/**
 * Audit rows name the session (`auth_sessions.id`) the request acted in: every guest is the one
 * `guest` account, so without it two guests' actions could not be told apart, and a user's two
 * logins neither. Existing rows keep NULL; the hash chain covers the column only where it is set
 * (db/audit-chain.ts), so rows written before still verify.
 */
export function auditSession() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('audit_logs').addColumn('session_id', 'text').execute();
    },
  };
}
