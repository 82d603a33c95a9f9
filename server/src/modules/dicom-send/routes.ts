import { requireUser } from '../../http/auth-hooks.js';
import { drTyped, ok } from '../../http/envelope.js';
import { BEARER, drRoute, type App } from '../../http/routing.js';
import { AppError } from '../../util/errors.js';
import { RetryBody, StoreBody, StoreQueueQuery, StudyStoreBody, TaskIdQuery } from './schemas.js';
import type { StoreService } from './store-service.js';

const tags = ['dr-dicom-net'];

/** The C-STORE send queue: send an image or a study, list, retry and delete tasks. */
export function sendRoutes(app: App, store: StoreService): void {
  app.post(
    '/auth/scp/store',
    {
      schema: {
        tags,
        security: BEARER,
        summary: 'Send one image to a PACS node (queued; answers after the first attempt)',
        body: StoreBody,
      },
      config: drRoute('dicom:send', { audit: 'pacs.store' }),
    },
    async (req, reply) => {
      const uid = req.body.sop_instance_uid ?? req.body.sop_instance_id;
      if (!uid) throw new AppError('VALIDATION', [{ field: 'sop_instance_uid', message: 'required' }]);
      return ok(req, reply, drTyped('dr.task.StoreReply', await store.storeImage(uid, req.body.pacs_name, requireUser(req))));
    },
  );

  app.post(
    '/auth/scp/study_store',
    {
      schema: {
        tags,
        security: BEARER,
        summary: 'Send every stored, not rejected image of a study (instance_uid = study_id)',
        body: StudyStoreBody,
      },
      config: drRoute('dicom:send', { audit: 'pacs.study_store' }),
    },
    async (req, reply) =>
      ok(req, reply, drTyped('dr.task.StoreReply', await store.storeStudy(req.body.instance_uid, req.body.pacs_name, requireUser(req)))),
  );

  app.get(
    '/auth/scp/store',
    {
      schema: { tags, security: BEARER, summary: 'The send queue (created between start_time and end_time)', querystring: StoreQueueQuery },
      config: drRoute('pacs:read'),
    },
    async (req, reply) => ok(req, reply, await store.list(req.query.start_time, req.query.end_time)),
  );

  app.post(
    '/auth/scp/store_reply',
    {
      schema: { tags, security: BEARER, summary: 'Retry a send task (instance_uid = task id)', body: RetryBody },
      config: drRoute('dicom:send', { audit: 'pacs.retry' }),
    },
    async (req, reply) => ok(req, reply, drTyped('dr.task.StoreReply', await store.retry(req.body.instance_uid))),
  );

  app.delete(
    '/auth/scp/task',
    {
      schema: { tags, security: BEARER, summary: 'Delete a send task (task_id in the query or body)', querystring: TaskIdQuery },
      config: drRoute('dicom:send', { audit: 'pacs.task_delete' }),
    },
    async (req, reply) => {
      const body = (req.body ?? {}) as { task_id?: unknown; instance_uid?: unknown };
      const taskId =
        req.query.task_id ??
        req.query.instance_uid ??
        (typeof body.task_id === 'string' ? body.task_id : typeof body.instance_uid === 'string' ? body.instance_uid : undefined);
      if (!taskId) throw new AppError('VALIDATION', [{ field: 'task_id', message: 'required (query or body)' }]);
      await store.remove(taskId);
      return ok(req, reply, {});
    },
  );
}
