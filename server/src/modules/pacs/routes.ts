import { requireUser } from '../../http/auth-hooks.js';
import { drTyped, ok } from '../../http/envelope.js';
import { BEARER, drRoute, type App } from '../../http/routing.js';
import { PacsIdParams, PacsNodeBody } from './schemas.js';
import type { PacsService } from './service.js';

const tags = ['dr-pacs'];

export function pacsRoutes(app: App, pacs: PacsService): void {
  for (const path of ['/auth/manage/pacs', '/auth/scp/pacs']) {
    app.get(
      path,
      {
        schema: { tags, security: BEARER, summary: 'PACS nodes' },
        config: drRoute('pacs:read'),
      },
      async (req, reply) => ok(req, reply, drTyped('dr.study.ScpList', await pacs.list())),
    );
  }

  app.post(
    '/auth/manage/pacs',
    {
      schema: {
        tags,
        security: BEARER,
        summary:
          'Add a PACS node (name 3–16, IPv4 ≠ 0.0.0.0, port 1–65535, AE titles 1–16); it may store only if may_store is granted (system:security)',
        body: PacsNodeBody,
      },
      config: drRoute('pacs:write', { audit: 'pacs.create' }),
    },
    async (req, reply) => {
      const id = await pacs.save(req.body, requireUser(req));
      req.auditInfo = { resourceType: 'pacs', resourceId: String(id) };
      return ok(req, reply, { id });
    },
  );

  app.put(
    '/auth/manage/pacs/:id',
    {
      schema: { tags, security: BEARER, summary: 'Change a PACS node', params: PacsIdParams, body: PacsNodeBody },
      config: drRoute('pacs:write', { audit: 'pacs.update' }),
    },
    async (req, reply) => {
      await pacs.save(req.body, requireUser(req), req.params.id);
      return ok(req, reply, {});
    },
  );

  app.delete(
    '/auth/manage/pacs/:id',
    {
      schema: { tags, security: BEARER, summary: 'Delete a PACS node', params: PacsIdParams },
      config: drRoute('pacs:write', { audit: 'pacs.delete' }),
    },
    async (req, reply) => {
      await pacs.remove(req.params.id);
      return ok(req, reply, {});
    },
  );
}
