import { AppError } from '../../util/errors.js';
import { BEARER, diagnosisRoute, drRoute, type App } from '../../http/routing.js';
import type { Permission } from '../rbac/permissions.js';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

interface Planned {
  method: Method;
  url: string;
  permission: Permission;
}

/**
 * Routes of the specification whose feature is not built yet. They answer 501 NOT_IMPLEMENTED
 * in their face's envelope, naming the feature, after the usual token and permission checks:
 * a client can tell "not yet" from "no such route" (404), and nothing pretends to succeed. Each
 * entry goes when its feature's routes are registered.
 */
export const PLANNED_DIAGNOSIS: Record<string, Planned[]> = {
  'Studies, series and upload (diagnosis face)': [
    { method: 'GET', url: '/api/v1/studies', permission: 'study:read' },
    { method: 'POST', url: '/api/v1/studies', permission: 'study:write' },
    { method: 'GET', url: '/api/v1/studies/:study_id', permission: 'study:read' },
    { method: 'GET', url: '/api/v1/studies/:study_id/series', permission: 'study:read' },
    { method: 'GET', url: '/api/v1/series/:series_id/instances', permission: 'study:read' },
    { method: 'POST', url: '/api/v1/studies/:study_id/upload', permission: 'study:write' },
  ],
  Reports: [
    { method: 'GET', url: '/api/v1/reports', permission: 'report:read' },
    { method: 'POST', url: '/api/v1/reports', permission: 'report:write' },
    { method: 'GET', url: '/api/v1/reports/:report_id', permission: 'report:read' },
    { method: 'PUT', url: '/api/v1/reports/:report_id', permission: 'report:write' },
    { method: 'POST', url: '/api/v1/reports/:report_id/submit', permission: 'report:write' },
    { method: 'POST', url: '/api/v1/reports/:report_id/review', permission: 'report:review' },
    { method: 'GET', url: '/api/v1/reports/:report_id/export', permission: 'report:read' },
  ],
  'AI analysis': [
    { method: 'POST', url: '/api/v1/ai/analyze', permission: 'ai:write' },
    { method: 'GET', url: '/api/v1/ai/tasks/:task_id', permission: 'ai:read' },
    { method: 'GET', url: '/api/v1/ai/tasks/:task_id/result', permission: 'ai:read' },
    { method: 'GET', url: '/api/v1/ai/models', permission: 'ai:read' },
  ],
  Notifications: [
    { method: 'GET', url: '/api/v1/notifications', permission: 'notification:read' },
    { method: 'PUT', url: '/api/v1/notifications/:notification_id/read', permission: 'notification:read' },
    { method: 'POST', url: '/api/v1/notifications', permission: 'notification:write' },
  ],
};

/** DR console routes not built yet, relative to the DR prefixes. */
export const PLANNED_DR: Record<string, Planned[]> = {
  'DR reports': [
    { method: 'POST', url: '/auth/report/preview', permission: 'report:read' },
    { method: 'POST', url: '/auth/study/:id/report', permission: 'report:write' },
    { method: 'GET', url: '/auth/study/:id/report', permission: 'report:read' },
  ],
};

function register(app: App, table: Record<string, Planned[]>, config: (p: Permission) => ReturnType<typeof drRoute>): void {
  for (const [feature, routes] of Object.entries(table)) {
    for (const { method, url, permission } of routes) {
      app.route({
        method,
        url,
        schema: { tags: ['not implemented yet'], summary: `${feature}: not implemented yet (501)`, security: BEARER },
        config: config(permission),
        handler: () => {
          throw new AppError('NOT_IMPLEMENTED', [], `${feature} (${method} ${url})`);
        },
      });
    }
  }
}

export function plannedDiagnosisRoutes(app: App): void {
  register(app, PLANNED_DIAGNOSIS, (p) => diagnosisRoute(p));
}

/** Call inside each DR prefix scope. */
export function plannedDrRoutes(app: App): void {
  register(app, PLANNED_DR, (p) => drRoute(p));
}
