import { nowIso } from '../../util/time.js';
import { generatePassword, hashPassword } from '../auth/passwords.js';
import { ROLE_SEEDS, USER_SEEDS } from './permissions.js';
import type { RbacSeedRepository } from './repository.js';

export interface SeedPasswords {
  /** From ROENTGEN_ADMIN_PASSWORD; generated when absent. */
  admin: string | undefined;
  /** Initial password of mgr, tech and service (ROENTGEN_SEED_USER_PASSWORD); generated when absent. */
  others: string | undefined;
}

/** Accounts created by this call with the passwords they got, to be shown once. */
export type SeededAccounts = { username: string; password: string; generated: boolean }[];

/**
 * Creates the built-in roles and accounts on first start and grants built-in roles any
 * permission added to the code since. Runs under a lock so concurrent starts seed once.
 */
export async function seedRbac(repo: RbacSeedRepository, passwords: SeedPasswords): Promise<SeededAccounts> {
  return repo.seed(async (trx) => {
    const now = nowIso();
    const roleIds = new Map<string, number>();
    for (const role of ROLE_SEEDS) roleIds.set(role.name, await trx.ensureRole(role, now));
    const existing = await trx.existingUsernames(USER_SEEDS.map((u) => u.username));
    const seeded: SeededAccounts = [];
    for (const seed of USER_SEEDS) {
      if (existing.has(seed.username)) continue;
      const given = seed.username === 'admin' ? passwords.admin : seed.username === 'guest' ? undefined : passwords.others;
      const password = given ?? generatePassword();
      const roleId = roleIds.get(seed.role);
      if (roleId === undefined) throw new Error(`built-in account ${seed.username} names unknown role ${seed.role}`);
      await trx.insertUser(
        {
          username: seed.username,
          email: null,
          password_hash: await hashPassword(password),
          full_name: seed.fullName,
          phone: null,
          department: null,
          job_title: null,
          avatar: '',
          is_active: 1,
          is_builtin: seed.username === 'admin' || seed.username === 'guest' ? 1 : 0,
          failed_login_count: 0,
          locked_until: null,
          last_login_at: null,
          token_version: 0,
          created_at: now,
          updated_at: now,
          deleted_at: null,
        },
        roleId,
      );
      // The guest account never logs in with a password; only software_info's token uses it.
      if (seed.username !== 'guest') seeded.push({ username: seed.username, password, generated: given === undefined });
    }
    return seeded;
  });
}
