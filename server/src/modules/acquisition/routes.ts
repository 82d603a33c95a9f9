import { Type } from 'typebox';
import { requireUser } from '../../http/auth-hooks.js';
import { DR_EMPTY, drTyped, ok } from '../../http/envelope.js';
import { BEARER, drRoute, type App } from '../../http/routing.js';
import { InstanceRef, instanceUidOf } from '../studies/schemas.js';
import type { AcquisitionService } from './service.js';

const tags = ['dr-task'];
const EXPOSE = ['exposure:perform'] as const;

export function acquisitionRoutes(app: App, acquisition: AcquisitionService): void {
  app.post(
    '/auth/task/inspection/start',
    {
      schema: {
        tags,
        security: BEARER,
        summary: 'Start the inspection of an image: loads its exposure programme into the generator',
        body: InstanceRef,
      },
      config: drRoute([...EXPOSE], { guest: true, audit: 'task.start' }),
    },
    async (req, reply) => {
      await acquisition.start(instanceUidOf(req.body), requireUser(req));
      return ok(req, reply, DR_EMPTY);
    },
  );

  app.get(
    '/auth/task/inspection/status',
    {
      schema: { tags, security: BEARER, summary: 'Generator, detector and task states' },
      config: drRoute(['exposure:perform', 'device:read'], { guest: true }),
    },
    async (req, reply) => ok(req, reply, drTyped('dr.task.TaskGlobalStatus', acquisition.globalStatus())),
  );

  app.post(
    '/auth/task/inspection/trigger',
    {
      schema: { tags, security: BEARER, summary: 'Expose; processing progress follows on MODULE/TASK/IMGPROC/PROGRESS' },
      config: drRoute([...EXPOSE], { guest: true, audit: 'task.trigger' }),
    },
    async (req, reply) => {
      await acquisition.trigger(requireUser(req));
      return ok(req, reply, {});
    },
  );

  app.post(
    '/auth/task/inspection/judge',
    {
      schema: {
        tags,
        security: BEARER,
        summary: 'Accept or reject the exposed image (rejected images are kept with their status)',
        body: Type.Intersect([InstanceRef, Type.Object({ accept: Type.Boolean() })]),
      },
      config: drRoute([...EXPOSE], { guest: true, audit: 'task.judge' }),
    },
    async (req, reply) => {
      await acquisition.judge(instanceUidOf(req.body), req.body.accept, requireUser(req));
      return ok(req, reply, DR_EMPTY);
    },
  );

  app.post(
    '/auth/task/inspection/leave',
    {
      schema: {
        tags,
        security: BEARER,
        summary: 'Leave the exposure page: suspend (InProgress) or complete the study',
        body: Type.Object({
          study_id: Type.String({ minLength: 1, maxLength: 64 }),
          study_status: Type.Union([Type.Literal('InProgress'), Type.Literal('Completed')]),
        }),
      },
      config: drRoute([...EXPOSE], { guest: true, audit: 'task.leave' }),
    },
    async (req, reply) => {
      await acquisition.leave(req.body.study_id, req.body.study_status, requireUser(req));
      return ok(req, reply, DR_EMPTY);
    },
  );
}
