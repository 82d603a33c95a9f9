import { Type } from 'typebox';
import { requireUser } from '../../http/auth-hooks.js';
import { DR_EMPTY, drTyped, ok } from '../../http/envelope.js';
import { AppError } from '../../util/errors.js';
import { BEARER, drRoute, type App } from '../../http/routing.js';
import {
  AddImagesBody,
  CreateStudyBody,
  InstanceRef,
  instanceUidOf,
  SortImagesBody,
  StudyIdList,
  StudyIdParams,
  StudyListQuery,
  UidParams,
  UpdateStudyBody,
} from './schemas.js';
import type { StudiesService } from './service.js';

const tags = ['dr-study'];
const register = ['study:write', 'study:emergency'] as const;

export function studyRoutes(app: App, studies: StudiesService): void {
  app.post(
    '/auth/study',
    {
      schema: { tags, security: BEARER, summary: 'Register a study with its views', body: CreateStudyBody },
      config: drRoute([...register], { guest: true, audit: 'study.register' }),
    },
    async (req, reply) => {
      const study = await studies.register(req.body, requireUser(req), req.product, req.language);
      req.auditInfo = {
        resourceType: 'study',
        resourceId: study.study_id,
        detail: { patient_id: study.patient_id, study_type: study.study_type },
      };
      return ok(req, reply, study);
    },
  );

  app.put(
    '/auth/study/:id',
    {
      schema: { tags, security: BEARER, summary: 'Edit patient and study fields', params: StudyIdParams, body: UpdateStudyBody },
      config: drRoute([...register], { guest: true, audit: 'study.update' }),
    },
    async (req, reply) => ok(req, reply, await studies.update(req.params.id, req.body, requireUser(req))),
  );

  app.put(
    '/auth/study/:id/lock',
    {
      schema: {
        tags,
        security: BEARER,
        summary: 'Lock or unlock a study',
        params: StudyIdParams,
        body: Type.Object({ lock: Type.Union([Type.Literal('Locked'), Type.Literal('Unlocked')]) }),
      },
      config: drRoute('study:write', { audit: 'study.lock' }),
    },
    async (req, reply) => {
      await studies.lock(req.params.id, req.body.lock, requireUser(req));
      return ok(req, reply, {});
    },
  );

  app.get(
    '/auth/study',
    {
      schema: {
        tags,
        security: BEARER,
        summary: 'Worklist (fuzzy id/name/acc_no, time range, statuses, paging)',
        querystring: StudyListQuery,
      },
      config: drRoute('study:read', { audit: { read: 'study.list', subject: 'list' } }),
    },
    async (req, reply) => ok(req, reply, drTyped('dr.study.StudyList', await studies.list(req.query, false))),
  );

  app.get(
    '/auth/study/:id',
    {
      schema: { tags, security: BEARER, summary: 'A study with its series and images', params: StudyIdParams },
      config: drRoute(['study:read', 'study:emergency'], { guest: true, audit: { read: 'study.view', subject: 'study' } }),
    },
    async (req, reply) => ok(req, reply, await studies.detail(req.params.id, requireUser(req))),
  );

  app.get(
    '/auth/study/:id/stat',
    {
      schema: { tags, security: BEARER, summary: 'Image counts of a study', params: StudyIdParams },
      config: drRoute(['study:read', 'study:emergency'], { guest: true, audit: { read: 'study.view', subject: 'study' } }),
    },
    async (req, reply) => ok(req, reply, drTyped('dr.study.Stat', await studies.stat(req.params.id, requireUser(req)))),
  );

  app.delete(
    '/auth/study',
    {
      schema: { tags, security: BEARER, summary: 'Move studies to the recycle bin (locked ones are refused)', body: StudyIdList },
      config: drRoute('study:write', { audit: 'study.delete' }),
    },
    async (req, reply) => {
      const { moved, refused } = await studies.moveToBin(req.body, requireUser(req));
      req.auditInfo = { resourceType: 'study', detail: { moved, refused } };
      if (refused.length > 0) {
        const locked = refused.some((r) => r.message === 'locked');
        throw new AppError(
          locked ? 'STUDY_LOCKED' : 'STUDY_NOT_FOUND',
          refused,
          `${moved.length} of ${req.body.length} moved to the recycle bin`,
        );
      }
      return ok(req, reply, drTyped('dr.study.DeleteReply', { moved }));
    },
  );

  app.post(
    '/auth/image',
    {
      schema: { tags, security: BEARER, summary: 'Add views (with or without a procedure) to a study', body: AddImagesBody },
      config: drRoute('image:write', { guest: true, audit: 'image.add' }),
    },
    async (req, reply) =>
      ok(
        req,
        reply,
        drTyped('dr.study.CreateImageReply', await studies.addImages(req.body.study_id, req.body.views, requireUser(req), req.language)),
      ),
  );

  app.post(
    '/auth/image/copy',
    {
      schema: { tags, security: BEARER, summary: 'Copy a view of a study', body: InstanceRef },
      config: drRoute('image:write', { guest: true, audit: 'image.copy' }),
    },
    async (req, reply) =>
      ok(req, reply, drTyped('dr.study.CreateImageReply', await studies.copyImage(instanceUidOf(req.body), requireUser(req)))),
  );

  app.post(
    '/auth/image/sort',
    {
      schema: { tags, security: BEARER, summary: 'Order the images of a study', body: SortImagesBody },
      config: drRoute('image:write', { guest: true, audit: 'image.sort' }),
    },
    async (req, reply) => {
      await studies.sortImages(req.body.study_id, req.body.sop_instance_uids, requireUser(req));
      return ok(req, reply, DR_EMPTY);
    },
  );

  app.delete(
    '/auth/image/:id',
    {
      schema: { tags, security: BEARER, summary: 'Delete a view (exposed images only once rejected)', params: UidParams },
      config: drRoute('image:write', { guest: true, audit: 'image.delete' }),
    },
    async (req, reply) => {
      await studies.deleteImage(req.params.id, requireUser(req));
      return ok(req, reply, DR_EMPTY);
    },
  );
}
