import os from 'node:os';
import { Type } from 'typebox';
import { ok } from '../../http/envelope.js';
import { BEARER, diagnosisRoute, type App } from '../../http/routing.js';
import { validationError } from '../../util/errors.js';
import { toStoredInstant } from '../../util/time.js';
import { toAtnaRecord } from './atna.js';
import type { AuditRepository } from './repository.js';

const MAX_EXPORT = 10_000;

function instant(field: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const parsed = toStoredInstant(value);
  if (!parsed) throw validationError(field, 'must be an RFC 3339 time (e.g. 2025-06-19T00:00:00.000+08:00) or a date');
  return parsed;
}

/** The audit trail for a SIEM: IHE ATNA / RFC 3881 records in JSON, in chain order (next to the spec's `system/audit-logs`). */
export function auditRoutes(app: App, audit: AuditRepository): void {
  const sourceId = `roentgen@${os.hostname()}`;
  app.get(
    '/api/v1/system/audit-logs/export',
    {
      schema: {
        tags: ['system'],
        summary: 'Export the audit trail as IHE ATNA (RFC 3881) JSON records',
        security: BEARER,
        querystring: Type.Object({
          from: Type.Optional(Type.String({ maxLength: 40 })),
          to: Type.Optional(Type.String({ maxLength: 40 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_EXPORT, default: 1000 })),
        }),
      },
      config: diagnosisRoute('audit:export', { audit: { read: 'audit.export', subject: 'list' } }),
    },
    async (request, reply) => {
      const q = request.query;
      const limit = q.limit ?? 1000;
      const rows = await audit.range(instant('from', q.from), instant('to', q.to), limit + 1);
      const records = rows.slice(0, limit).map((row) => toAtnaRecord(row, sourceId));
      return ok(request, reply, { format: 'IHE-ATNA RFC-3881 JSON', count: records.length, truncated: rows.length > limit, records });
    },
  );
}
