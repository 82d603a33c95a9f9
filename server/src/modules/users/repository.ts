import type { Kysely, Selectable } from 'kysely';
import type { Database, UsersTable } from '../../db/schema.js';
import type { Db, Executor } from '../../db/index.js';
import { likePattern } from '../../db/sql.js';

export type UserRow = Selectable<UsersTable>;

export interface UserListFilter {
  search?: string;
  department?: string;
  role?: string;
  isActive?: boolean;
  sort: 'created_at' | 'username' | 'full_name' | 'last_login_at' | 'id';
  order: 'asc' | 'desc';
  limit: number;
  offset: number;
}

export class UsersRepository {
  constructor(private readonly sql: Db) {}

  private get db(): Kysely<Database> {
    return this.sql.kysely;
  }

  findLiveById(id: number, db: Executor = this.db): Promise<UserRow | undefined> {
    return db.selectFrom('users').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
  }

  findLiveByUsername(username: string, db: Executor = this.db): Promise<UserRow | undefined> {
    return db.selectFrom('users').selectAll().where('username', '=', username).where('deleted_at', 'is', null).executeTakeFirst();
  }

  async usernameTaken(username: string, exceptId?: number, db: Executor = this.db): Promise<boolean> {
    let query = db.selectFrom('users').select('id').where('username', '=', username).where('deleted_at', 'is', null);
    if (exceptId !== undefined) query = query.where('id', '!=', exceptId);
    return (await query.executeTakeFirst()) !== undefined;
  }

  async emailTaken(email: string, exceptId?: number, db: Executor = this.db): Promise<boolean> {
    let query = db.selectFrom('users').select('id').where('email', '=', email).where('deleted_at', 'is', null);
    if (exceptId !== undefined) query = query.where('id', '!=', exceptId);
    return (await query.executeTakeFirst()) !== undefined;
  }

  async insert(values: Omit<UsersTable, 'id'>, db: Executor = this.db): Promise<number> {
    const row = await db.insertInto('users').values(values).returning('id').executeTakeFirstOrThrow();
    return row.id;
  }

  async update(id: number, values: Partial<Omit<UsersTable, 'id'>>, db: Executor = this.db): Promise<void> {
    await db.updateTable('users').set(values).where('id', '=', id).execute();
  }

  async bumpTokenVersion(id: number, db: Executor = this.db): Promise<void> {
    await db
      .updateTable('users')
      .set((eb) => ({ token_version: eb('token_version', '+', 1) }))
      .where('id', '=', id)
      .execute();
  }

  /** Roles of each user, by user id. */
  async rolesOf(userIds: number[], db: Executor = this.db): Promise<Map<number, string[]>> {
    const result = new Map<number, string[]>(userIds.map((id) => [id, []]));
    if (userIds.length === 0) return result;
    const rows = await db
      .selectFrom('user_roles')
      .innerJoin('roles', 'roles.id', 'user_roles.role_id')
      .select(['user_roles.user_id', 'roles.name'])
      .where('user_roles.user_id', 'in', userIds)
      .orderBy('roles.name')
      .execute();
    for (const row of rows) result.get(row.user_id)?.push(row.name);
    return result;
  }

  async permissionsOf(userId: number, db: Executor = this.db): Promise<string[]> {
    const rows = await db
      .selectFrom('user_roles')
      .innerJoin('role_permissions', 'role_permissions.role_id', 'user_roles.role_id')
      .select('role_permissions.permission')
      .distinct()
      .where('user_roles.user_id', '=', userId)
      .execute();
    return rows.map((r) => r.permission).sort();
  }

  /** Every permission the given roles grant together. */
  async permissionsOfRoles(roleIds: number[], db: Executor = this.db): Promise<string[]> {
    if (roleIds.length === 0) return [];
    const rows = await db.selectFrom('role_permissions').select('permission').distinct().where('role_id', 'in', roleIds).execute();
    return rows.map((r) => r.permission);
  }

  /** Forgets an account's failed logins from every address (after an administrator's password reset). */
  async clearLoginBackoff(userId: number, db: Executor = this.db): Promise<void> {
    await db.deleteFrom('login_backoff').where('user_id', '=', userId).execute();
  }

  /** Role names and granted permissions of one user (what a session carries). */
  async accessOf(userId: number): Promise<{ roles: string[]; permissions: string[] }> {
    const [roles, permissions] = await Promise.all([this.rolesOf([userId]), this.permissionsOf(userId)]);
    return { roles: roles.get(userId) ?? [], permissions };
  }

  async setRoles(userId: number, roleIds: number[], db: Executor = this.db): Promise<void> {
    await db.deleteFrom('user_roles').where('user_id', '=', userId).execute();
    if (roleIds.length > 0) {
      await db
        .insertInto('user_roles')
        .values(roleIds.map((role_id) => ({ user_id: userId, role_id })))
        .execute();
    }
  }

  roleIdsByName(names: string[], db: Executor = this.db): Promise<{ id: number; name: string }[]> {
    if (names.length === 0) return Promise.resolve([]);
    return db.selectFrom('roles').select(['id', 'name']).where('name', 'in', names).execute();
  }

  /** Live, active users holding `role`, optionally not counting one user. */
  async countActiveWithRole(role: string, exceptUserId?: number, db: Executor = this.db): Promise<number> {
    let query = db
      .selectFrom('users')
      .innerJoin('user_roles', 'user_roles.user_id', 'users.id')
      .innerJoin('roles', 'roles.id', 'user_roles.role_id')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('roles.name', '=', role)
      .where('users.is_active', '=', 1)
      .where('users.deleted_at', 'is', null);
    if (exceptUserId !== undefined) query = query.where('users.id', '!=', exceptUserId);
    const row = await query.executeTakeFirstOrThrow();
    return row.n;
  }

  async list(filter: UserListFilter): Promise<{ rows: UserRow[]; total: number }> {
    let query = this.db.selectFrom('users').where('users.deleted_at', 'is', null).where('users.username', '!=', 'guest');
    if (filter.search) {
      const pattern = likePattern(filter.search);
      query = query.where((eb) =>
        eb.or([
          this.sql.ilike(eb.ref('users.username'), pattern),
          this.sql.ilike(eb.ref('users.full_name'), pattern),
          this.sql.ilike(eb.ref('users.email'), pattern),
        ]),
      );
    }
    if (filter.department) query = query.where('users.department', '=', filter.department);
    if (filter.isActive !== undefined) query = query.where('users.is_active', '=', filter.isActive ? 1 : 0);
    if (filter.role) {
      const role = filter.role;
      query = query.where((eb) =>
        eb.exists(
          eb
            .selectFrom('user_roles')
            .innerJoin('roles', 'roles.id', 'user_roles.role_id')
            .select('user_roles.user_id')
            .whereRef('user_roles.user_id', '=', 'users.id')
            .where('roles.name', '=', role),
        ),
      );
    }
    const totalRow = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await query
      .selectAll('users')
      .orderBy(`users.${filter.sort}`, filter.order)
      .orderBy('users.id', filter.order)
      .limit(filter.limit)
      .offset(filter.offset)
      .execute();
    return { rows, total: totalRow.n };
  }

  /** Usernames shown on the console login screen. */
  async consoleUsernames(roles: string[]): Promise<string[]> {
    const rows = await this.db
      .selectFrom('users')
      .innerJoin('user_roles', 'user_roles.user_id', 'users.id')
      .innerJoin('roles', 'roles.id', 'user_roles.role_id')
      .select('users.username')
      .distinct()
      .where('roles.name', 'in', roles)
      .where('users.is_active', '=', 1)
      .where('users.deleted_at', 'is', null)
      .orderBy('users.username')
      .execute();
    return rows.map((r) => r.username);
  }

  async rolesWithPermissions() {
    const roles = await this.db.selectFrom('roles').selectAll().orderBy('id').execute();
    const grants = await this.db.selectFrom('role_permissions').selectAll().execute();
    return { roles, grants };
  }
}
