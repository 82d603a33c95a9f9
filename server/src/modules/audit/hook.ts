import type { FastifyInstance, FastifyRequest } from 'fastify';
import { nowIso } from '../../util/time.js';
import type { AuditRepository } from './repository.js';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Action name: the route's declared one, else METHOD plus the route pattern (ids left out). */
function actionOf(request: FastifyRequest): string {
  const declared = request.routeOptions.config.roentgen?.audit;
  if (declared) return declared;
  return `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`;
}

/**
 * Records every write (any non-read method, answered or refused) and every login attempt as the
 * response goes out (onSend: its status is final), so a client that has its answer finds the
 * write in the log, and a crash right after answering cannot lose the entry. Failing to write
 * the audit row is logged, never shown to the client.
 */
export function installAuditHook(app: FastifyInstance, audit: AuditRepository): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (READ_METHODS.has(request.method)) return payload;
    const info = request.auditInfo;
    const params = (request.params ?? {}) as Record<string, unknown>;
    const firstParam = Object.values(params).find((v) => typeof v === 'string' && v !== '');
    try {
      await audit.insert({
        created_at: nowIso(),
        user_id: request.authUser?.id ?? null,
        username: request.authUser?.username ?? info?.username ?? null,
        action: actionOf(request),
        resource_type: info?.resourceType ?? null,
        resource_id: info?.resourceId ?? (typeof firstParam === 'string' ? firstParam : null),
        method: request.method,
        path: (request.url.split('?')[0] ?? '').slice(0, 512),
        status_code: reply.statusCode,
        outcome: reply.statusCode < 400 ? 'success' : 'failure',
        source: request.source,
        ip: request.ip,
        request_id: request.id,
        detail: info?.detail ? JSON.stringify(info.detail) : null,
      });
    } catch (error) {
      request.log.error({ err: error }, 'audit log write failed');
    }
    return payload;
  });
}
