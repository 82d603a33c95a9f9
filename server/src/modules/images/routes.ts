import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { StoredFileKind } from '../../db/schema.js';
import { PREVIEW_SIZES, type PreviewSize } from '../../dicom/render.js';
import { requireUser } from '../../http/auth-hooks.js';
import { DR_EMPTY, drTyped, ok } from '../../http/envelope.js';
import { AppError, validationError } from '../../util/errors.js';
import { BEARER, diagnosisRoute, drRoute, type App } from '../../http/routing.js';
import { InstanceRef, instanceUidOf } from '../studies/schemas.js';
import type { DerivedImagesService, PortraitTarget } from './derived-service.js';
import type { ImageFilesService, OpenedFile } from './service.js';

const FILE_ROUTES: { path: string; param: string; kind: StoredFileKind; what: string }[] = [
  { path: 'thumbnail', param: 'filename', kind: 'thumbnail', what: 'a thumbnail (WebP)' },
  { path: 'dcm', param: 'dcmfilename', kind: 'dicom', what: 'a DICOM file' },
  { path: 'capture', param: 'filename', kind: 'capture', what: 'a captured picture (PNG)' },
];
const READ = ['study:read', 'study:emergency'] as const;
const MAX_PICTURE_BYTES = 64 * 1024 * 1024;

/**
 * Which study a portrait is for. The spec sends the study in `instance_uid`; `study_id` is our
 * earlier name for it, kept as an alias. With both, `instance_uid` names an image of the study.
 */
function portraitTarget(body: { study_id?: string; instance_uid?: string }): PortraitTarget {
  if (body.study_id) return { studyId: body.study_id, imageUid: body.instance_uid || undefined };
  if (body.instance_uid) return { studyOrImage: body.instance_uid };
  throw validationError('instance_uid', 'required: the study id (or study_id)');
}

/** Sends a stored file with validators; a matching If-None-Match gets 304 without the body. */
function sendFile(req: FastifyRequest, reply: FastifyReply, file: OpenedFile, isPublic: boolean, attachment: boolean) {
  reply.header('ETag', file.etag).header('Cache-Control', `${isPublic ? 'public' : 'private'}, max-age=86400`);
  if (req.headers['if-none-match'] === file.etag) {
    file.stream.destroy();
    return reply.code(304).send();
  }
  reply.header('Content-Type', file.row.content_type).header('Content-Length', String(file.row.size));
  if (attachment) reply.header('Content-Disposition', `attachment; filename="${file.row.name}"`);
  return reply.send(file.stream);
}

/** DR face: the file routes, portrait, post-processing and "save as". */
export function drImageRoutes(app: App, files: ImageFilesService, derived: DerivedImagesService): void {
  for (const route of FILE_ROUTES) {
    const params = Type.Object({ [route.param]: Type.String({ minLength: 1, maxLength: 256 }) });
    const nameOf = (req: FastifyRequest) => (req.params as Record<string, string>)[route.param];
    const readAudit = { read: route.kind === 'dicom' ? 'study.download' : 'study.view', subject: 'file', param: route.param } as const;
    app.get(
      `/pub/${route.path}/:${route.param}`,
      {
        schema: {
          tags: ['dr-file'],
          summary: `Get ${route.what} with a token or the session cookie; without either only if an admin made the kind public`,
          params,
        },
        config: drRoute('public', { cookie: true, audit: readAudit }),
      },
      async (req, reply) => {
        const file = await files.open(nameOf(req), route.kind, req.authUser, true);
        return sendFile(req, reply, file, !req.authUser, route.kind === 'dicom');
      },
    );
    app.get(
      `/auth/f/${route.path}/:${route.param}`,
      {
        schema: { tags: ['dr-file'], security: BEARER, summary: `Get ${route.what}`, params },
        config: drRoute([...READ], { guest: true, cookie: true, audit: readAudit }),
      },
      async (req, reply) =>
        sendFile(req, reply, await files.open(nameOf(req), route.kind, requireUser(req), false), false, route.kind === 'dicom'),
    );
  }

  app.post(
    '/auth/study/portrait',
    {
      schema: {
        tags: ['dr-study'],
        security: BEARER,
        summary:
          'Store the emergency patient photograph (PNG, base64) as a DICOM Secondary Capture. The study is named by ' +
          '`instance_uid` (the spec: a study id, or an image of the study) or `study_id`; with both, `instance_uid` names an image of it.',
        body: Type.Object({
          study_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          data: Type.String({ minLength: 1 }),
          instance_uid: Type.Optional(Type.String({ maxLength: 64 })),
        }),
      },
      bodyLimit: Math.ceil((MAX_PICTURE_BYTES * 4) / 3) + 4096,
      config: drRoute(['study:write', 'study:emergency'], { guest: true, audit: 'study.portrait' }),
    },
    async (req, reply) =>
      ok(req, reply, drTyped('dr.task.DcmPath', await derived.portrait(portraitTarget(req.body), req.body.data, requireUser(req), req.ip))),
  );

  app.post(
    '/auth/image/post_proc',
    {
      schema: {
        tags: ['dr-image'],
        security: BEARER,
        summary: 'Store a post-processed picture (multipart: instance_uid, study_id, data PNG, window_center, window_width)',
      },
      config: drRoute('image:write', { guest: true, audit: 'image.post_proc' }),
    },
    async (req, reply) => {
      const form = await readPostProcForm(req);
      return ok(req, reply, drTyped('dr.task.DcmPath', await derived.postProcess(form, requireUser(req), req.ip)));
    },
  );

  app.post(
    '/auth/image/save_as',
    {
      schema: {
        tags: ['dr-image'],
        security: BEARER,
        summary: "Copy the image's DICOM file to the export folder",
        body: InstanceRef,
      },
      config: drRoute('image:write', { audit: 'image.save_as' }),
    },
    async (req, reply) => {
      await derived.saveAs(instanceUidOf(req.body), requireUser(req));
      return ok(req, reply, DR_EMPTY);
    },
  );
}

const intField = (fields: Partial<Record<string, string>>, ...names: string[]) => {
  const name = names.find((n) => fields[n] !== undefined) ?? names[0];
  const raw = fields[name];
  if (raw === undefined || !/^-?\d+$/.test(raw.trim())) throw validationError(names[0], 'required: a whole number');
  return Number(raw);
};

/** The post_proc form: the spec's fields (window_wdith accepted for window_width, spec reading 7 in docs/architecture.md). */
async function readPostProcForm(req: FastifyRequest) {
  if (!req.isMultipart()) throw validationError('body', 'must be multipart/form-data');
  const fields: Record<string, string> = {};
  let png: Buffer | undefined;
  try {
    // Parts are held in memory (no temporary files), so a refused or broken form leaves nothing behind.
    for await (const part of req.parts({ limits: { fileSize: MAX_PICTURE_BYTES, files: 1, fields: 16, parts: 17 } })) {
      if (part.type === 'file') {
        if (part.fieldname !== 'data') throw validationError(part.fieldname, 'unexpected file; send the PNG as "data"');
        png = await part.toBuffer();
      } else {
        fields[part.fieldname] = String(part.value);
      }
    }
  } catch (error) {
    throw multipartRefusal(error);
  }
  const missing = ['instance_uid', 'study_id'].filter((f) => !fields[f]);
  if (missing.length > 0) throw validationError(missing[0], 'required');
  if (!png || png.length === 0) throw validationError('data', 'required: the PNG file');
  const width = intField(fields, 'window_width', 'window_wdith');
  if (width < 1) throw validationError('window_width', 'must be at least 1');
  return { instanceUid: fields.instance_uid, studyId: fields.study_id, png, window: { center: intField(fields, 'window_center'), width } };
}

/**
 * Our refusals and the multipart plugin's limits (4xx with a status) pass through; anything else
 * the form parser throws (a truncated body, a premature close, a broken part header) is the
 * client's malformed request, not a server error.
 */
function multipartRefusal(error: unknown): unknown {
  if (error instanceof AppError) return error;
  const status = (error as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return error;
  return new AppError('BAD_REQUEST', [{ field: 'body', message: 'the multipart form is malformed or incomplete' }]);
}

const PreviewQuery = Type.Object({
  size: Type.Optional(Type.Union(Object.keys(PREVIEW_SIZES).map((s) => Type.Literal(s)))),
  format: Type.Optional(Type.Union([Type.Literal('jpeg'), Type.Literal('png'), Type.Literal('webp')])),
  window_center: Type.Optional(Type.Number()),
  window_width: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
});

/** Diagnosis face: previews and downloads of instances by SOP Instance UID. */
export function instanceRoutes(app: App, files: ImageFilesService): void {
  app.get(
    '/api/v1/instances/:instance_id/preview',
    {
      schema: {
        tags: ['instances'],
        security: BEARER,
        summary: 'Rendered preview (size, format, optional window)',
        params: Type.Object({ instance_id: Type.String({ minLength: 1, maxLength: 64 }) }),
        querystring: PreviewQuery,
      },
      config: diagnosisRoute('study:read', { audit: { read: 'study.view', subject: 'instance' } }),
    },
    async (req, reply) => {
      const q = req.query;
      if ((q.window_center === undefined) !== (q.window_width === undefined)) {
        throw validationError(
          q.window_center === undefined ? 'window_center' : 'window_width',
          'window_center and window_width go together',
        );
      }
      const rendered = await files.preview(
        req.params.instance_id,
        {
          // TypeBox types a union built from an array as never; the schema admits PREVIEW_SIZES' keys.
          size: (q.size as PreviewSize | undefined) ?? 'medium',
          format: q.format ?? 'jpeg',
          ...(q.window_center !== undefined && q.window_width !== undefined
            ? { window: { center: q.window_center, width: q.window_width } }
            : {}),
        },
        requireUser(req),
      );
      reply.header('ETag', rendered.etag).header('Cache-Control', 'private, max-age=86400');
      if (req.headers['if-none-match'] === rendered.etag) return reply.code(304).send();
      return reply.header('Content-Type', rendered.contentType).send(rendered.data);
    },
  );

  app.get(
    '/api/v1/instances/:instance_id/download',
    {
      schema: {
        tags: ['instances'],
        security: BEARER,
        summary: 'The DICOM file (application/dicom)',
        params: Type.Object({ instance_id: Type.String({ minLength: 1, maxLength: 64 }) }),
      },
      config: diagnosisRoute('study:read', { audit: { read: 'study.download', subject: 'instance' } }),
    },
    async (req, reply) => sendFile(req, reply, await files.download(req.params.instance_id, requireUser(req)), false, true),
  );
}
