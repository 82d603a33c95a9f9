import { Type } from 'typebox';
import { requireUser } from '../../http/auth-hooks.js';
import { drTyped, ok } from '../../http/envelope.js';
import { BEARER, drRoute, type App } from '../../http/routing.js';
import { literalUnion } from '../../util/schema.js';
import { PATIENT_SIZES } from './library/techniques.js';
import type { ProtocolService } from './service.js';

const Id = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const Enabled = { is_enabled: Type.Optional(Type.Boolean()) };
const Filter = {
  patient_type: Type.Optional(Type.String({ maxLength: 64 })),
  body_part: Type.Optional(Type.String({ maxLength: 64 })),
  ...Enabled,
};
/** A view or its programme, optionally within one procedure. */
const ViewQuery = Type.Object({ ...Filter, procedure_id: Type.Optional(Type.String({ maxLength: 64 })) });
const Paging = {
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
};
const WorkStation = Type.Integer({ minimum: 0, maximum: 1 });
const Size = literalUnion(PATIENT_SIZES);
const tags = ['dr-protocol'];

function paging(q: { page?: number; page_size?: number }, fallbackSize: number) {
  const size = q.page_size ?? fallbackSize;
  return { limit: size, offset: ((q.page ?? 1) - 1) * size };
}

export function protocolRoutes(app: App, protocols: ProtocolService): void {
  const read = drRoute('protocol:read', { guest: true });

  app.get(
    '/auth/protocol/patient_type',
    { schema: { tags, security: BEARER, summary: 'Patient types', querystring: Type.Object(Enabled) }, config: read },
    async (req, reply) => ok(req, reply, await protocols.patientTypes(req.product, req.language, req.query.is_enabled)),
  );

  app.get(
    '/auth/protocol/body_part',
    {
      schema: {
        tags,
        security: BEARER,
        summary: 'Body parts of a patient type',
        querystring: Type.Object({ ...Filter, modality: Type.Optional(Type.Literal('DX')) }),
      },
      config: read,
    },
    async (req, reply) =>
      ok(
        req,
        reply,
        await protocols.bodyParts(
          { product: req.product, patientType: req.query.patient_type, isEnabled: req.query.is_enabled },
          req.language,
        ),
      ),
  );

  app.get(
    '/auth/protocol/procedure',
    {
      schema: {
        tags,
        security: BEARER,
        summary: 'Procedures (filters, paging)',
        querystring: Type.Object({
          ...Filter,
          ...Paging,
          procedure_type: Type.Optional(Type.Union([Type.Literal('NORMAL'), Type.Literal('EMERGENCY')])),
        }),
      },
      config: read,
    },
    async (req, reply) =>
      ok(
        req,
        reply,
        drTyped(
          'dr.protocol.ProcedureList',
          await protocols.procedures(
            {
              product: req.product,
              patientType: req.query.patient_type,
              bodyPart: req.query.body_part,
              isEnabled: req.query.is_enabled,
              procedureType: req.query.procedure_type,
              ...paging(req.query, 10_000),
            },
            req.language,
          ),
        ),
      ),
  );

  app.get(
    '/auth/protocol/view',
    {
      schema: { tags, security: BEARER, summary: 'Views (filters, paging)', querystring: Type.Object({ ...Filter, ...Paging }) },
      config: read,
    },
    async (req, reply) =>
      ok(
        req,
        reply,
        drTyped(
          'dr.protocol.ViewList',
          await protocols.views(
            {
              product: req.product,
              patientType: req.query.patient_type,
              bodyPart: req.query.body_part,
              isEnabled: req.query.is_enabled,
              ...paging(req.query, 10),
            },
            req.language,
          ),
        ),
      ),
  );

  app.get(
    '/auth/protocol/procedure/:id/view',
    { schema: { tags, security: BEARER, summary: 'Views of a procedure', params: Id }, config: read },
    async (req, reply) =>
      ok(req, reply, drTyped('dr.protocol.ViewList', await protocols.viewsOfProcedure(req.product, req.params.id, req.language))),
  );

  app.get(
    '/auth/protocol/view/:id',
    {
      schema: {
        tags,
        security: BEARER,
        summary: 'One view',
        params: Id,
        querystring: ViewQuery,
      },
      config: read,
    },
    async (req, reply) => ok(req, reply, drTyped('dr.protocol.View', await protocols.view(req.product, req.params.id, req.language))),
  );

  app.get(
    '/auth/protocol/view/:id/apr',
    {
      schema: {
        tags,
        security: BEARER,
        summary: 'Exposure programme of a view',
        params: Id,
        querystring: ViewQuery,
      },
      config: read,
    },
    async (req, reply) => ok(req, reply, drTyped('dr.protocol.AprReply', await protocols.apr(req.product, req.params.id, req.language))),
  );

  app.get(
    '/auth/protocol/apr/:id',
    {
      schema: {
        tags,
        security: BEARER,
        summary: 'Exposure programme',
        params: Id,
        querystring: ViewQuery,
      },
      config: read,
    },
    async (req, reply) => ok(req, reply, drTyped('dr.protocol.AprReply', await protocols.apr(req.product, req.params.id, req.language))),
  );

  app.post(
    '/auth/protocol/apr/:id',
    {
      schema: {
        tags,
        security: BEARER,
        summary: 'Edit one exposure row (mAs = mA × ms / 1000)',
        params: Id,
        body: Type.Object({
          work_station_id: WorkStation,
          patient_size: Size,
          kV: Type.Number({ minimum: 40, maximum: 150 }),
          mA: Type.Number({ minimum: 1, maximum: 1000 }),
          ms: Type.Number({ minimum: 1, maximum: 10_000 }),
          mAs: Type.Number({ minimum: 0.1, maximum: 1000 }),
        }),
      },
      config: drRoute('protocol:write', { audit: 'protocol.apr_update' }),
    },
    async (req, reply) => {
      req.auditInfo = { resourceType: 'apr', resourceId: req.params.id, detail: { ...req.body } };
      await protocols.updateExposure(req.product, req.params.id, req.body, requireUser(req).id);
      return ok(req, reply, {});
    },
  );

  app.get(
    '/auth/protocol/apr/:id/device',
    {
      schema: {
        tags,
        security: BEARER,
        summary: 'Device parameters of an APR',
        params: Id,
        querystring: Type.Object({ work_station_id: Type.Optional(WorkStation) }),
      },
      config: read,
    },
    async (req, reply) =>
      ok(req, reply, drTyped('dr.protocol.AprDevice', await protocols.device(req.product, req.params.id, req.query.work_station_id ?? 0))),
  );

  app.get(
    '/auth/protocol/apr/:id/tech',
    {
      schema: {
        tags,
        security: BEARER,
        summary: 'Device and exposure parameters for a station and size',
        params: Id,
        querystring: Type.Object({ work_station_id: Type.Optional(WorkStation), patient_size: Type.Optional(Size) }),
      },
      config: read,
    },
    async (req, reply) =>
      ok(
        req,
        reply,
        drTyped(
          'dr.protocol.TechParam',
          await protocols.tech(req.product, req.params.id, req.query.work_station_id ?? 0, req.query.patient_size ?? 'Medium'),
        ),
      ),
  );

  app.get(
    '/auth/protocol/thickness/:thickness/apr',
    {
      schema: {
        tags,
        security: BEARER,
        summary: "Exposure by part thickness (Sante's rule)",
        params: Type.Object({ thickness: Type.Integer({ minimum: 1, maximum: 50 }) }),
      },
      config: read,
    },
    async (req, reply) => ok(req, reply, drTyped('dr.protocol.ThicknessApr', protocols.thickness(req.params.thickness))),
  );

  app.get(
    '/pub/Image/Position/:patient_type/:file',
    {
      schema: {
        tags,
        summary: 'View pictogram (generated SVG)',
        params: Type.Object({ patient_type: Type.String({ maxLength: 32 }), file: Type.String({ maxLength: 128 }) }),
      },
      config: drRoute('public'),
    },
    async (req, reply) => {
      const svg = await protocols.pictogram(req.params.patient_type, req.params.file);
      return reply.type('image/svg+xml').header('Cache-Control', 'public, max-age=86400').send(svg);
    },
  );
}
