import type { Kysely } from 'kysely';

/** The admin-only permissions this migration introduces (kept literal: a shipped migration must not change with the code). */
const ADMIN_ONLY = ['user:admin', 'system:security', 'audit:export'];

interface Tables {
  roles: { id: number; name: string };
  role_permissions: { role_id: number; permission: string };
  login_backoff: Record<string, unknown>;
}

/**
 * Least privilege and login back-off (issue 15).
 *
 * - Grants the new admin-only permissions to the built-in `admin` role of an existing database
 *   and makes sure no other role holds them (a site could not have granted them yet, but a
 *   stale grant would defeat "nobody grants what they do not hold").
 * - `login_backoff`: failed logins per (account, source address), so back-off slows the
 *   address that guesses instead of locking the account for everyone. The account-wide count
 *   stays in `users.failed_login_count` / `users.locked_until`.
 */
export function leastPrivilege() {
  return {
    async up(untyped: Kysely<unknown>): Promise<void> {
      const db = untyped as Kysely<Tables>;
      const admin = await db.selectFrom('roles').select('id').where('name', '=', 'admin').executeTakeFirst();
      if (admin) {
        await db
          .insertInto('role_permissions')
          .values(ADMIN_ONLY.map((permission) => ({ role_id: admin.id, permission })))
          .onConflict((oc) => oc.columns(['role_id', 'permission']).doNothing())
          .execute();
        await db.deleteFrom('role_permissions').where('permission', 'in', ADMIN_ONLY).where('role_id', '!=', admin.id).execute();
      }
      await db.schema
        .createTable('login_backoff')
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_failure_at', 'text', (c) => c.notNull())
        .addColumn('blocked_until', 'text')
        .addPrimaryKeyConstraint('login_backoff_pk', ['user_id', 'source'])
        .execute();
    },
  };
}
