import { Type } from 'typebox';
import { requireUser } from '../../http/auth-hooks.js';
import { ok } from '../../http/envelope.js';
import { PageQuery, pageOf, paginated, parseFilter } from '../../http/pagination.js';
import { validationError } from '../../util/errors.js';
import { literalUnion } from '../../util/schema.js';
import { BEARER, defaultEmptyBody, diagnosisRoute, type App } from '../../http/routing.js';
import { PERMISSIONS } from '../rbac/permissions.js';
import type { UsersRepository } from './repository.js';
import type { UsersService } from './service.js';

const Username = Type.String({ minLength: 3, maxLength: 32, pattern: '^[A-Za-z0-9_.@-]+$' });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Phone = Type.String({ pattern: '^[0-9+][0-9 -]{4,19}$' });
const Text64 = Type.String({ maxLength: 64 });
const RoleList = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 20 });

const UserFields = {
  email: Type.Optional(Nullable(Type.String({ format: 'email', maxLength: 254 }))),
  full_name: Type.String({ minLength: 1, maxLength: 64 }),
  phone: Type.Optional(Nullable(Phone)),
  department: Type.Optional(Nullable(Text64)),
  department_id: Type.Optional(Nullable(Text64)),
  job_title: Type.Optional(Nullable(Text64)),
  role_ids: Type.Optional(RoleList),
  roles: Type.Optional(RoleList),
  is_active: Type.Optional(Type.Boolean()),
  avatar: Type.Optional(Type.String({ maxLength: 512 })),
};

const CreateUserBody = Type.Object({ username: Username, password: Type.String({ minLength: 1, maxLength: 256 }), ...UserFields });
const UpdateUserBody = Type.Partial(Type.Object({ username: Username, ...UserFields }), { minProperties: 1 });
const UserIdParams = Type.Object({ user_id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });

const ListQuery = Type.Object({
  ...PageQuery,
  department: Type.Optional(Text64),
  role: Type.Optional(Text64),
  is_active: Type.Optional(Type.Boolean()),
  filter: Type.Optional(Type.String({ maxLength: 256 })),
  sort: Type.Optional(literalUnion(['created_at', 'username', 'full_name', 'last_login_at', 'id'])),
});

export function userRoutes(app: App, users: UsersService, repository: UsersRepository): void {
  app.get(
    '/api/v1/users',
    {
      schema: {
        tags: ['users'],
        summary: 'List users (search, department, role, is_active, paging)',
        security: BEARER,
        querystring: ListQuery,
      },
      config: diagnosisRoute('user:read'),
    },
    async (request, reply) => {
      const q = request.query;
      const page = pageOf(q);
      // The search convention's `filter=department:放射科,role:doctor` form; explicit parameters win.
      const { values: f, unknown } = parseFilter(q.filter, ['department', 'role', 'is_active']);
      if (unknown.length > 0) throw validationError('filter', `unknown filter: ${unknown.join(', ')}`);
      if (f.is_active !== undefined && f.is_active !== 'true' && f.is_active !== 'false')
        throw validationError('filter', 'is_active must be true or false');
      const isActive = q.is_active ?? (f.is_active === undefined ? undefined : f.is_active === 'true');
      const { items, total } = await users.list(
        {
          search: q.search,
          department: q.department ?? f.department,
          role: (q.role ?? f.role)?.replace(/^role_/, ''),
          isActive,
          sort: q.sort ?? 'created_at',
          order: q.order ?? 'desc',
        },
        page,
        requireUser(request),
      );
      return ok(request, reply, paginated(items, page, total));
    },
  );

  app.post(
    '/api/v1/users',
    {
      schema: { tags: ['users'], summary: 'Create a user', security: BEARER, body: CreateUserBody },
      config: diagnosisRoute('user:write', { audit: 'user.create' }),
    },
    async (request, reply) => {
      const created = await users.create(request.body, requireUser(request));
      request.auditInfo = {
        resourceType: 'user',
        resourceId: String(created.id),
        detail: { username: created.username, roles: created.roles },
      };
      return ok(request, reply, created, 201);
    },
  );

  app.get(
    '/api/v1/users/:user_id',
    {
      schema: { tags: ['users'], summary: 'Get one user', security: BEARER, params: UserIdParams },
      config: diagnosisRoute('user:read'),
    },
    async (request, reply) => ok(request, reply, await users.get(request.params.user_id, requireUser(request))),
  );

  app.put(
    '/api/v1/users/:user_id',
    {
      schema: { tags: ['users'], summary: 'Update a user', security: BEARER, params: UserIdParams, body: UpdateUserBody },
      config: diagnosisRoute('user:write', { audit: 'user.update' }),
    },
    async (request, reply) => {
      request.auditInfo = {
        resourceType: 'user',
        resourceId: String(request.params.user_id),
        detail: { fields: Object.keys(request.body) },
      };
      return ok(request, reply, await users.update(request.params.user_id, request.body, requireUser(request)));
    },
  );

  app.delete(
    '/api/v1/users/:user_id',
    {
      schema: {
        tags: ['users'],
        summary: 'Delete a user (the record is kept for the audit trail)',
        security: BEARER,
        params: UserIdParams,
      },
      config: diagnosisRoute('user:write', { audit: 'user.delete' }),
    },
    async (request, reply) => {
      request.auditInfo = { resourceType: 'user', resourceId: String(request.params.user_id) };
      await users.delete(request.params.user_id, requireUser(request));
      return ok(request, reply, { id: request.params.user_id, deleted: true });
    },
  );

  app.post(
    '/api/v1/users/:user_id/reset-password',
    {
      schema: {
        tags: ['users'],
        summary: 'Reset a password (given, or generated and returned once)',
        security: BEARER,
        params: UserIdParams,
        body: Type.Object({ new_password: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) }),
      },
      config: diagnosisRoute('user:write', { audit: 'user.reset_password' }),
      preValidation: defaultEmptyBody,
    },
    async (request, reply) => {
      request.auditInfo = { resourceType: 'user', resourceId: String(request.params.user_id) };
      return ok(request, reply, await users.resetPassword(request.params.user_id, request.body.new_password, requireUser(request)));
    },
  );

  app.get(
    '/api/v1/roles',
    {
      schema: { tags: ['users'], summary: 'Roles with their permissions', security: BEARER },
      config: diagnosisRoute('role:read'),
    },
    async (request, reply) => {
      const { roles, grants } = await repository.rolesWithPermissions();
      const zh = request.language === 'zh_CN';
      return ok(request, reply, {
        roles: roles.map((r) => ({
          id: `role_${r.name}`,
          name: r.name,
          display_name: zh ? r.display_name_zh : r.display_name_en,
          description: r.description,
          is_builtin: r.is_builtin === 1,
          permissions: grants
            .filter((g) => g.role_id === r.id)
            .map((g) => g.permission)
            .sort(),
        })),
        permissions: Object.entries(PERMISSIONS).map(([name, description]) => ({ name, description })),
      });
    },
  );
}
