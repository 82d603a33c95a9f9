import type { Db, Executor } from '../../db/index.js';
import type { AuthUser } from '../auth/auth-user.js';
import { AppError } from '../../util/errors.js';
import type { Page } from '../../util/page.js';
import { nowIso } from '../../util/time.js';
import { maskPhone } from '../../util/mask.js';
import { assertStrongPassword, generatePassword, hashPassword } from '../auth/passwords.js';
import type { UserListFilter, UserRow, UsersRepository } from './repository.js';

export interface UserView {
  id: number;
  username: string;
  full_name: string;
  email: string | null;
  phone: string | null;
  department: string | null;
  job_title: string | null;
  avatar: string;
  roles: string[];
  is_active: boolean;
  is_locked: boolean;
  last_login_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface UserInput {
  username?: string;
  email?: string | null;
  password?: string;
  full_name?: string;
  phone?: string | null;
  department?: string | null;
  department_id?: string | null;
  job_title?: string | null;
  role_ids?: string[];
  roles?: string[];
  is_active?: boolean;
  avatar?: string;
}

/** `role_doctor` (the document's sample form) and `doctor` both name the role `doctor`. */
function roleNames(input: UserInput): string[] | undefined {
  const raw = input.role_ids ?? input.roles;
  return raw?.map((r) => r.replace(/^role_/, ''));
}

/**
 * Least privilege: nobody grants what they do not hold, and nobody manages an account that
 * holds more than they do. `granted` are the permissions at stake (the roles being given,
 * or the target account's); the admin-only ones (user:admin, …) are covered, since only the
 * admin role holds them.
 */
function assertWithinPrivileges(viewer: AuthUser, granted: readonly string[], field?: string): void {
  const beyond = granted.filter((p) => !viewer.permissions.has(p)).sort();
  if (beyond.length > 0) {
    throw new AppError('PRIVILEGE_EXCEEDED', field ? [{ field, message: `you do not hold: ${beyond.join(', ')}` }] : [], beyond.join(', '));
  }
}

export class UsersService {
  constructor(
    private readonly sql: Db,
    private readonly users: UsersRepository,
  ) {}

  toView(row: UserRow, roles: string[], showPersonal: boolean): UserView {
    return {
      id: row.id,
      username: row.username,
      full_name: row.full_name,
      email: row.email,
      phone: showPersonal ? row.phone : maskPhone(row.phone),
      department: row.department,
      job_title: row.job_title,
      avatar: row.avatar,
      roles,
      is_active: row.is_active === 1,
      is_locked: row.locked_until !== null && Date.parse(row.locked_until) > Date.now(),
      last_login_at: row.last_login_at,
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  }

  async list(
    filter: Omit<UserListFilter, 'limit' | 'offset'>,
    page: Page,
    viewer: AuthUser,
  ): Promise<{ items: UserView[]; total: number }> {
    const { rows, total } = await this.users.list({ ...filter, limit: page.limit, offset: page.offset });
    const roles = await this.users.rolesOf(rows.map((r) => r.id));
    const showPersonal = viewer.permissions.has('user:write');
    return { items: rows.map((r) => this.toView(r, roles.get(r.id) ?? [], showPersonal)), total };
  }

  async get(id: number, viewer: AuthUser): Promise<UserView> {
    const row = await this.users.findLiveById(id);
    if (!row || row.username === 'guest') throw new AppError('USER_NOT_FOUND', [], String(id));
    const roles = (await this.users.rolesOf([id])).get(id) ?? [];
    return this.toView(row, roles, viewer.permissions.has('user:write') || viewer.id === id);
  }

  private async resolveRoles(names: string[]): Promise<number[]> {
    const unique = [...new Set(names)];
    const found = await this.users.roleIdsByName(unique);
    const missing = unique.filter((n) => !found.some((f) => f.name === n));
    if (missing.length > 0 || unique.includes('guest')) {
      throw new AppError('ROLE_NOT_FOUND', [
        { field: 'role_ids', message: `unknown role: ${[...missing, ...unique.filter((n) => n === 'guest')].join(', ')}` },
      ]);
    }
    return found.map((f) => f.id);
  }

  async create(input: Required<Pick<UserInput, 'username' | 'password' | 'full_name'>> & UserInput, viewer: AuthUser): Promise<UserView> {
    assertStrongPassword(input.password, 'password', [input.username, input.full_name]);
    const roleIds = await this.resolveRoles(roleNames(input) ?? []);
    assertWithinPrivileges(viewer, await this.users.permissionsOfRoles(roleIds), 'role_ids');
    const passwordHash = await hashPassword(input.password);
    const id = await this.sql.kysely.transaction().execute(async (trx) => {
      if (await this.users.usernameTaken(input.username, undefined, trx))
        throw new AppError('USERNAME_TAKEN', [{ field: 'username', message: 'taken' }]);
      if (input.email && (await this.users.emailTaken(input.email, undefined, trx)))
        throw new AppError('EMAIL_TAKEN', [{ field: 'email', message: 'taken' }]);
      const now = nowIso();
      const newId = await this.users.insert(
        {
          username: input.username,
          email: input.email ?? null,
          password_hash: passwordHash,
          full_name: input.full_name,
          phone: input.phone ?? null,
          department: input.department ?? input.department_id ?? null,
          job_title: input.job_title ?? null,
          avatar: input.avatar ?? '',
          is_active: input.is_active === false ? 0 : 1,
          is_builtin: 0,
          failed_login_count: 0,
          locked_until: null,
          last_login_at: null,
          token_version: 0,
          created_at: now,
          updated_at: now,
          deleted_at: null,
        },
        trx,
      );
      await this.users.setRoles(newId, roleIds, trx);
      return newId;
    });
    return this.get(id, viewer);
  }

  async update(id: number, input: UserInput, viewer: AuthUser): Promise<UserView> {
    const names = roleNames(input);
    const roleIds = names ? await this.resolveRoles(names) : undefined;
    await this.sql.kysely.transaction().execute(async (trx) => {
      const row = await this.manageable(id, viewer, trx);
      const currentRoles = (await this.users.rolesOf([id], trx)).get(id) ?? [];
      // A profile form may send the roles back unchanged; only a change is checked and applied.
      const newRoleIds =
        names !== undefined && !(new Set(names).size === currentRoles.length && currentRoles.every((r) => names.includes(r)))
          ? roleIds
          : undefined;
      if (newRoleIds) {
        if (viewer.id === id)
          throw new AppError('CANNOT_CHANGE_OWN_ROLES', [{ field: 'role_ids', message: 'another administrator must change them' }]);
        assertWithinPrivileges(viewer, await this.users.permissionsOfRoles(newRoleIds, trx), 'role_ids');
      }
      if (input.username !== undefined && input.username !== row.username) {
        if (row.is_builtin) throw new AppError('BUILTIN_USER', [{ field: 'username', message: 'built-in accounts keep their name' }]);
        if (await this.users.usernameTaken(input.username, id, trx))
          throw new AppError('USERNAME_TAKEN', [{ field: 'username', message: 'taken' }]);
      }
      if (input.email && (await this.users.emailTaken(input.email, id, trx)))
        throw new AppError('EMAIL_TAKEN', [{ field: 'email', message: 'taken' }]);
      const disabling = input.is_active === false && row.is_active === 1;
      if (disabling && viewer.id === id)
        throw new AppError('CANNOT_DELETE_SELF', [{ field: 'is_active', message: 'cannot disable yourself' }]);
      const losesAdmin = currentRoles.includes('admin') && (disabling || (newRoleIds !== undefined && names?.includes('admin') === false));
      if (losesAdmin && (await this.users.countActiveWithRole('admin', id, trx)) === 0) throw new AppError('LAST_ADMIN');
      await this.users.update(
        id,
        {
          ...(input.username !== undefined ? { username: input.username } : {}),
          ...(input.email !== undefined ? { email: input.email } : {}),
          ...(input.full_name !== undefined ? { full_name: input.full_name } : {}),
          ...(input.phone !== undefined ? { phone: input.phone } : {}),
          ...(input.department !== undefined || input.department_id !== undefined
            ? { department: input.department ?? input.department_id ?? null }
            : {}),
          ...(input.job_title !== undefined ? { job_title: input.job_title } : {}),
          ...(input.avatar !== undefined ? { avatar: input.avatar } : {}),
          ...(input.is_active !== undefined ? { is_active: input.is_active ? (1 as const) : (0 as const) } : {}),
          updated_at: nowIso(),
        },
        trx,
      );
      if (newRoleIds) await this.users.setRoles(id, newRoleIds, trx);
      // A disabled account or changed roles must not keep working through old tokens.
      if (disabling || newRoleIds) await this.users.bumpTokenVersion(id, trx);
    });
    return this.get(id, viewer);
  }

  async delete(id: number, viewer: AuthUser): Promise<void> {
    await this.sql.kysely.transaction().execute(async (trx) => {
      const row = await this.manageable(id, viewer, trx);
      if (viewer.id === id) throw new AppError('CANNOT_DELETE_SELF');
      if (row.is_builtin) throw new AppError('BUILTIN_USER');
      const roles = (await this.users.rolesOf([id], trx)).get(id) ?? [];
      if (roles.includes('admin') && (await this.users.countActiveWithRole('admin', id, trx)) === 0) throw new AppError('LAST_ADMIN');
      await this.users.update(id, { deleted_at: nowIso(), is_active: 0, token_version: row.token_version + 1 }, trx);
    });
  }

  /** Sets the given password, or generates one and returns it (shown once, never stored in clear). */
  async resetPassword(id: number, newPassword: string | undefined, viewer: AuthUser): Promise<{ password?: string }> {
    // One's own password is changed with the old one (through the login back-off), never reset around it.
    if (viewer.id === id) throw new AppError('CANNOT_RESET_OWN_PASSWORD');
    const target = await this.manageable(id, viewer);
    if (newPassword !== undefined) assertStrongPassword(newPassword, 'new_password', [target.username, target.full_name]);
    const password = newPassword ?? generatePassword();
    const passwordHash = await hashPassword(password);
    await this.sql.kysely.transaction().execute(async (trx) => {
      // Checked again in the transaction: roles may have changed while the hash was computed.
      const row = await this.manageable(id, viewer, trx);
      await this.users.update(
        id,
        {
          password_hash: passwordHash,
          token_version: row.token_version + 1,
          failed_login_count: 0,
          locked_until: null,
          updated_at: nowIso(),
        },
        trx,
      );
      await this.users.clearLoginBackoff(id, trx);
    });
    return newPassword === undefined ? { password } : {};
  }

  /** The live account `id` if `viewer` may manage it (holds every permission it holds). */
  private async manageable(id: number, viewer: AuthUser, db?: Executor): Promise<UserRow> {
    const row = await this.users.findLiveById(id, db);
    if (!row || row.username === 'guest') throw new AppError('USER_NOT_FOUND', [], String(id));
    assertWithinPrivileges(viewer, await this.users.permissionsOf(id, db));
    return row;
  }
}
