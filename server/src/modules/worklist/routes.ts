import { requireUser } from '../../http/auth-hooks.js';
import { drTyped, ok } from '../../http/envelope.js';
import { BEARER, drRoute, type App } from '../../http/routing.js';
import type { EchoService } from './echo.js';
import { EchoBody, WorklistImportBody, WorklistQueryBody } from './schemas.js';
import type { WorklistService } from './worklist.js';

const tags = ['dr-dicom-net'];

/** RIS sync (MWL) and C-ECHO. */
export function worklistRoutes(app: App, worklist: WorklistService, echo: EchoService): void {
  app.post(
    '/auth/worklist/query',
    {
      schema: { tags, security: BEARER, summary: 'RIS sync: query the RIS worklist (MWL C-FIND)', body: WorklistQueryBody },
      config: drRoute('study:read'),
    },
    async (req, reply) => ok(req, reply, drTyped('dr.study.WorklistReply', await worklist.query(req.body))),
  );

  app.post(
    '/auth/worklist/import',
    {
      schema: {
        tags,
        security: BEARER,
        summary: 'RIS sync: register a worklist item as a study with the chosen views',
        body: WorklistImportBody,
      },
      config: drRoute('study:write', { audit: 'study.import_mwl' }),
    },
    async (req, reply) => ok(req, reply, await worklist.import(req.body, requireUser(req), req.product, req.language)),
  );

  app.post(
    '/auth/scp/echo',
    {
      schema: {
        tags,
        security: BEARER,
        summary: 'C-ECHO a DICOM node (verbose/debug add echoscu-style lines); any address needs pacs:write, else a configured node',
        body: EchoBody,
      },
      config: drRoute('pacs:read'),
    },
    async (req, reply) => {
      const anyNode = requireUser(req).permissions.has('pacs:write');
      return ok(req, reply, drTyped('dr.task.EchoReply', await echo.echo(req.body, { anyNode })));
    },
  );
}
