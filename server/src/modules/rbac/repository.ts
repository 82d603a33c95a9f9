import { sql as rawSql, type Insertable, type Transaction } from 'kysely';
import type { Db } from '../../db/index.js';
import type { Database, UsersTable } from '../../db/schema.js';

/** Advisory lock id under which concurrent starts seed roles and accounts once (PostgreSQL). */
const SEED_LOCK = 7_310_001;

/** The seeding steps of roles, permissions and built-in accounts, run in one transaction. */
export interface SeedTransaction {
  /** Inserts the role if missing, grants it any missing permission, returns its id. */
  ensureRole(
    role: { name: string; en: string; zh: string; description: string; permissions: readonly string[] },
    now: string,
  ): Promise<number>;
  existingUsernames(usernames: readonly string[]): Promise<Set<string>>;
  insertUser(user: Insertable<UsersTable>, roleId: number): Promise<number>;
}

export class RbacSeedRepository {
  constructor(private readonly db: Db) {}

  /** Runs `work` in one transaction, serialised across processes on PostgreSQL. */
  seed<T>(work: (trx: SeedTransaction) => Promise<T>): Promise<T> {
    return this.db.kysely.transaction().execute(async (trx) => {
      if (this.db.dialect === 'postgres') await rawSql`select pg_advisory_xact_lock(${SEED_LOCK})`.execute(trx);
      return work(seedSteps(trx));
    });
  }
}

function seedSteps(trx: Transaction<Database>): SeedTransaction {
  return {
    async ensureRole(role, now) {
      await trx
        .insertInto('roles')
        .values({
          name: role.name,
          display_name_en: role.en,
          display_name_zh: role.zh,
          description: role.description,
          is_builtin: 1,
          created_at: now,
        })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      const { id } = await trx.selectFrom('roles').select('id').where('name', '=', role.name).executeTakeFirstOrThrow();
      await trx
        .insertInto('role_permissions')
        .values(role.permissions.map((permission) => ({ role_id: id, permission })))
        .onConflict((oc) => oc.columns(['role_id', 'permission']).doNothing())
        .execute();
      return id;
    },
    async existingUsernames(usernames) {
      const rows = await trx
        .selectFrom('users')
        .select('username')
        .where('username', 'in', [...usernames])
        .execute();
      return new Set(rows.map((r) => r.username));
    },
    async insertUser(user, roleId) {
      const { id } = await trx.insertInto('users').values(user).returning('id').executeTakeFirstOrThrow();
      await trx.insertInto('user_roles').values({ user_id: id, role_id: roleId }).execute();
      return id;
    },
  };
}
