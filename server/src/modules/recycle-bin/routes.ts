import { requireUser } from '../../http/auth-hooks.js';
import { DR_EMPTY, drTyped, ok } from '../../http/envelope.js';
import { AppError } from '../../util/errors.js';
import { BEARER, drRoute, type App } from '../../http/routing.js';
import { StudyIdList, StudyIdParams, StudyListQuery } from '../studies/schemas.js';
import type { StudiesService } from '../studies/service.js';
import type { RecycleBinService } from './service.js';

const tags = ['dr-recycle-bin'];

export function recycleBinRoutes(app: App, bin: RecycleBinService, studies: StudiesService): void {
  app.get(
    '/auth/recycle_bin/disk_info',
    { schema: { tags, security: BEARER, summary: 'Disk and recycle bin sizes' }, config: drRoute('recycle:read') },
    async (req, reply) => ok(req, reply, await bin.diskInfo()),
  );

  app.get(
    '/auth/recycle_bin/study',
    {
      schema: { tags, security: BEARER, summary: 'Studies in the recycle bin', querystring: StudyListQuery },
      config: drRoute('recycle:read', { audit: { read: 'study.list', subject: 'list' } }),
    },
    async (req, reply) => ok(req, reply, drTyped('dr.study.StudyList', await studies.list(req.query, true))),
  );

  app.get(
    '/auth/recycle_bin/study/:id',
    {
      schema: { tags, security: BEARER, summary: 'A study in the recycle bin', params: StudyIdParams },
      config: drRoute('recycle:read', { audit: { read: 'study.view', subject: 'study' } }),
    },
    async (req, reply) => ok(req, reply, await studies.detail(req.params.id, requireUser(req), true)),
  );

  app.post(
    '/auth/recycle_bin/study',
    {
      schema: { tags, security: BEARER, summary: 'Restore studies from the recycle bin', body: StudyIdList },
      config: drRoute('recycle:restore', { audit: 'recycle_bin.restore' }),
    },
    async (req, reply) => {
      const { missing } = await bin.restore(req.body);
      req.auditInfo = { resourceType: 'study', detail: { study_ids: req.body } };
      if (missing.length > 0)
        throw new AppError('STUDY_NOT_IN_BIN', missing, `${req.body.length - missing.length} of ${req.body.length} restored`);
      return ok(req, reply, DR_EMPTY);
    },
  );

  app.delete(
    '/auth/recycle_bin/study',
    {
      schema: { tags, security: BEARER, summary: 'Permanently delete studies from the recycle bin', body: StudyIdList },
      config: drRoute('recycle:purge', { audit: 'recycle_bin.purge' }),
    },
    async (req, reply) => {
      const { purged, missing } = await bin.purge(req.body);
      req.auditInfo = { resourceType: 'study', detail: { study_ids: req.body, purged } };
      if (missing.length > 0) throw new AppError('STUDY_NOT_IN_BIN', missing, `${purged} of ${req.body.length} purged`);
      return ok(req, reply, DR_EMPTY);
    },
  );

  app.delete(
    '/auth/recycle_bin/clear',
    {
      schema: { tags, security: BEARER, summary: 'Empty the recycle bin' },
      config: drRoute('recycle:purge', { audit: 'recycle_bin.clear' }),
    },
    async (req, reply) => {
      const { purged } = await bin.purge('all');
      req.auditInfo = { resourceType: 'study', detail: { purged } };
      return ok(req, reply, DR_EMPTY);
    },
  );
}
