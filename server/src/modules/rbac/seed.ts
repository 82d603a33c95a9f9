import { sql as rawSql } from 'kysely';
import type { Db } from '../../db/index.js';
import { nowIso } from '../../util/time.js';
import { generatePassword, hashPassword } from '../auth/passwords.js';
import { ROLE_SEEDS, USER_SEEDS } from './permissions.js';

export interface SeedPasswords {
  /** From ROENTGEN_ADMIN_PASSWORD; generated when absent. */
  admin: string | undefined;
  /** Initial password of mgr, tech and service (ROENTGEN_SEED_USER_PASSWORD); generated when absent. */
  others: string | undefined;
}

/** Accounts created by this call with the passwords they got, to be shown once. */
export type SeededAccounts = { username: string; password: string; generated: boolean }[];

const SEED_LOCK = 7_310_001;

/**
 * Creates the built-in roles and accounts on first start and grants built-in roles any
 * permission added to the code since. Runs under a lock so concurrent starts seed once.
 */
export async function seedRbac(db: Db, passwords: SeedPasswords): Promise<SeededAccounts> {
  return db.kysely.transaction().execute(async (trx) => {
    if (db.dialect === 'postgres') await rawSql`select pg_advisory_xact_lock(${SEED_LOCK})`.execute(trx);
    const now = nowIso();
    for (const role of ROLE_SEEDS) {
      await trx.insertInto('roles').values({
        name: role.name, display_name_en: role.en, display_name_zh: role.zh, description: role.description, is_builtin: 1, created_at: now,
      }).onConflict((oc) => oc.column('name').doNothing()).execute();
      const { id } = await trx.selectFrom('roles').select('id').where('name', '=', role.name).executeTakeFirstOrThrow();
      await trx.insertInto('role_permissions').values(role.permissions.map((permission) => ({ role_id: id, permission })))
        .onConflict((oc) => oc.columns(['role_id', 'permission']).doNothing()).execute();
    }
    const existing = await trx.selectFrom('users').select('username').where('username', 'in', USER_SEEDS.map((u) => u.username)).execute();
    const seeded: SeededAccounts = [];
    for (const seed of USER_SEEDS) {
      if (existing.some((e) => e.username === seed.username)) continue;
      const given = seed.username === 'admin' ? passwords.admin : seed.username === 'guest' ? undefined : passwords.others;
      const password = given ?? generatePassword();
      const id = (await trx.insertInto('users').values({
        username: seed.username, email: null, password_hash: await hashPassword(password), full_name: seed.fullName, phone: null,
        department: null, job_title: null, avatar: '', is_active: 1, is_builtin: seed.username === 'admin' || seed.username === 'guest' ? 1 : 0,
        failed_login_count: 0, locked_until: null, last_login_at: null, token_version: 0, created_at: now, updated_at: now, deleted_at: null,
      }).returning('id').executeTakeFirstOrThrow()).id;
      const role = await trx.selectFrom('roles').select('id').where('name', '=', seed.role).executeTakeFirstOrThrow();
      await trx.insertInto('user_roles').values({ user_id: id, role_id: role.id }).execute();
      // The guest account never logs in with a password; only software_info's token uses it.
      if (seed.username !== 'guest') seeded.push({ username: seed.username, password, generated: given === undefined });
    }
    return seeded;
  });
}
