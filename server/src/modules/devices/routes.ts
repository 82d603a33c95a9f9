import { Type } from 'typebox';
import { requireUser } from '../../http/auth-hooks.js';
import { DR_EMPTY, ok } from '../../http/envelope.js';
import { BEARER, drRoute, type App } from '../../http/routing.js';
import type { DeviceService } from './service.js';

const tags = ['dr-device'];
const DeviceUri = Type.String({ minLength: 1, maxLength: 128 });
/** The console sends every field; only the URI, the name and the parameter carry meaning here. */
const Request = Type.Object({
  deviceUri: DeviceUri,
  reqName: Type.String({ maxLength: 128 }),
  reqParam: Type.String({ maxLength: 4096 }),
  reqTransaction: Type.Optional(Type.String({ maxLength: 128 })),
  reqClientID: Type.Optional(Type.String({ maxLength: 128 })),
});

export function deviceRoutes(app: App, devices: DeviceService): void {
  app.post(
    '/auth/device/open',
    {
      schema: { tags, security: BEARER, summary: 'Open (connect) a device', body: Type.Object({ deviceUri: DeviceUri }) },
      config: drRoute('device:control', { guest: true, audit: 'device.open' }),
    },
    async (req, reply) => {
      await devices.open(req.body.deviceUri);
      return ok(req, reply, DR_EMPTY);
    },
  );

  app.post(
    '/auth/device/get',
    {
      schema: {
        tags,
        security: BEARER,
        summary: "A device's parameters (data is the JSON-encoded map, as the spec's sample)",
        body: Request,
      },
      config: drRoute('device:read', { guest: true }),
    },
    async (req, reply) => ok(req, reply, JSON.stringify(await devices.get(req.body.deviceUri))),
  );

  app.post(
    '/auth/device/action',
    {
      schema: {
        tags,
        security: BEARER,
        summary:
          "Run a device action (IncParam_KV, SetParam_MAS, …), range-checked; refused while another session's inspection holds the room",
        body: Request,
      },
      config: drRoute('device:control', { guest: true, audit: 'device.action' }),
    },
    async (req, reply) => {
      await devices.action(req.body.deviceUri, req.body.reqName, req.body.reqParam, requireUser(req));
      req.auditInfo = {
        resourceType: 'device',
        resourceId: req.body.deviceUri,
        detail: { action: req.body.reqName, param: req.body.reqParam },
      };
      return ok(req, reply, DR_EMPTY);
    },
  );
}
