import { Type } from 'typebox';
import { successBody, ok } from '../../http/envelope.js';
import { validationError } from '../../util/errors.js';
import { literalUnion } from '../../util/schema.js';
import { PageQuery, pageOf, paginated } from '../../http/pagination.js';
import { BEARER, diagnosisRoute, type App } from '../../http/routing.js';
import { requireUser } from '../../http/auth-hooks.js';
import { toStoredInstant } from '../../util/time.js';
import type { AuditRepository, AuditRow } from '../audit/repository.js';
import type { ConfigRow, ConfigService } from './config-service.js';
import type { HealthService } from './health-service.js';
import type { StatsService } from './stats-service.js';

function configView(row: ConfigRow) {
  return {
    config_key: row.config_key,
    config_value: row.config_value,
    config_type: row.config_type,
    category: row.category,
    description: row.description,
    is_public: row.is_public === 1,
    updated_at: row.updated_at,
    updated_by: row.updated_by,
  };
}

function auditView(row: AuditRow) {
  return { ...row, detail: row.detail ? (JSON.parse(row.detail) as unknown) : null };
}

function instant(field: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const parsed = toStoredInstant(value);
  if (!parsed) throw validationError(field, 'must be an RFC 3339 time (e.g. 2025-06-19T00:00:00.000+08:00) or a date');
  return parsed;
}

export interface SystemServices {
  configs: ConfigService;
  stats: StatsService;
  health: HealthService;
  audit: AuditRepository;
}

export function systemRoutes(app: App, s: SystemServices): void {
  app.get(
    '/api/v1/system/configs',
    {
      schema: {
        tags: ['system'],
        summary: 'System configuration entries',
        security: BEARER,
        querystring: Type.Object({
          category: Type.Optional(Type.String({ maxLength: 64 })),
          is_public: Type.Optional(Type.Boolean()),
          search: Type.Optional(Type.String({ maxLength: 100 })),
        }),
      },
      config: diagnosisRoute('system:read'),
    },
    async (request, reply) => {
      const rows = await s.configs.list(
        { category: request.query.category, isPublic: request.query.is_public, search: request.query.search },
        requireUser(request),
      );
      return ok(request, reply, rows.map(configView));
    },
  );

  app.put(
    '/api/v1/system/configs/:config_key',
    {
      schema: {
        tags: ['system'],
        summary: 'Change one configuration value (type-checked)',
        security: BEARER,
        params: Type.Object({ config_key: Type.String({ minLength: 1, maxLength: 128, pattern: '^[a-z0-9_.]+$' }) }),
        body: Type.Object({
          config_value: Type.Union([
            Type.String({ maxLength: 65536 }),
            Type.Number(),
            Type.Boolean(),
            Type.Object({}),
            Type.Array(Type.Unknown()),
          ]),
        }),
      },
      config: diagnosisRoute('system:write', { audit: 'system.config_update' }),
    },
    async (request, reply) => {
      const user = requireUser(request);
      request.auditInfo = { resourceType: 'config', resourceId: request.params.config_key, detail: { value: request.body.config_value } };
      return ok(request, reply, configView(await s.configs.update(request.params.config_key, request.body.config_value, user)));
    },
  );

  app.get(
    '/api/v1/system/stats',
    {
      schema: {
        tags: ['system'],
        summary: 'Counts for the dashboard',
        security: BEARER,
        querystring: Type.Object({ period: Type.Optional(literalUnion(['today', 'week', 'month', 'year'])) }),
      },
      config: diagnosisRoute('system:read'),
    },
    async (request, reply) => {
      const period = request.query.period ?? 'today';
      return ok(request, reply, await s.stats.stats(period));
    },
  );

  app.get(
    '/api/v1/system/audit-logs',
    {
      schema: {
        tags: ['system'],
        summary: 'The audit log (filters, paging)',
        security: BEARER,
        querystring: Type.Object({
          ...PageQuery,
          size: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
          user_id: Type.Optional(Type.Integer({ minimum: 1 })),
          username: Type.Optional(Type.String({ maxLength: 64 })),
          action: Type.Optional(Type.String({ maxLength: 128 })),
          resource_type: Type.Optional(Type.String({ maxLength: 64 })),
          resource_id: Type.Optional(Type.String({ maxLength: 128 })),
          outcome: Type.Optional(Type.Union([Type.Literal('success'), Type.Literal('failure')])),
          source: Type.Optional(Type.String({ maxLength: 32 })),
          request_id: Type.Optional(Type.String({ maxLength: 128 })),
          date_start: Type.Optional(Type.String({ maxLength: 40 })),
          date_end: Type.Optional(Type.String({ maxLength: 40 })),
        }),
      },
      config: diagnosisRoute('audit:read'),
    },
    async (request, reply) => {
      const q = request.query;
      const page = pageOf({ page: q.page, size: q.size ?? 50 });
      const { rows, total } = await s.audit.list({
        userId: q.user_id,
        username: q.username,
        action: q.action,
        resourceType: q.resource_type,
        resourceId: q.resource_id,
        outcome: q.outcome,
        source: q.source,
        requestId: q.request_id,
        search: q.search,
        from: instant('date_start', q.date_start),
        to: instant('date_end', q.date_end),
        order: q.order ?? 'desc',
        limit: page.limit,
        offset: page.offset,
      });
      return ok(request, reply, paginated(rows.map(auditView), page, total));
    },
  );

  app.get(
    '/api/v1/system/health',
    {
      schema: { tags: ['system'], summary: 'Health of database, storage, MQTT and job queue (details need system:read)' },
      config: diagnosisRoute('public'),
    },
    async (request, reply) => {
      const report = await s.health.check();
      const status = report.status === 'unhealthy' ? 503 : 200;
      // Load balancers call this without a token; only operators see the details.
      const detailed = request.authUser?.permissions.has('system:read') === true;
      const data = detailed ? report : { status: report.status, timestamp: report.timestamp };
      const body = successBody('diagnosis', request.language, request.id, data, status);
      return reply.code(status).send(status === 200 ? body : { ...body, success: false });
    },
  );
}
