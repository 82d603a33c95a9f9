import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DIALECTS, call, createUser, isDrError, withServer } from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`devices on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const device = (verb: string, body: unknown, token?: string) =>
      call(ctx.t.url, 'POST', `/dr/api/v1/auth/device/${verb}`, { token: token ?? ctx.admin, body });
    const request = (reqName: string, reqParam = '', deviceUri = 'DIOS/DEVICE/Generator') => ({
      deviceUri,
      reqName,
      reqParam,
      reqTransaction: 't1',
      reqClientID: 'c1',
    });
    const params = async (token?: string) => {
      const res = await device('get', request(''), token);
      assert.equal(res.status, 200, res.text);
      assert.equal(typeof res.body.data, 'string', 'data is the JSON-encoded map, as in the spec sample');
      return JSON.parse(res.body.data) as Record<string, { Value: string; min?: string; max?: string; Level: string; DescKey: string }>;
    };

    test('open, get the parameter map, step and set kV/mAs', async () => {
      const opened = await device('open', { deviceUri: 'DIOS/DEVICE/Generator' });
      assert.equal(opened.status, 200);
      assert.deepEqual(opened.body.data, { '@type': 'type.googleapis.com/google.protobuf.Empty', value: {} });
      const before = await params();
      assert.deepEqual([before.KV.Level, before.KV.DescKey, before.KV.min, before.KV.max], ['Public', 'KV', '40.00', '150.00']);
      for (const key of [
        'MA',
        'MS',
        'MAS',
        'FOCUS',
        'WORKSTATION',
        'TECHMODE',
        'EXPMODE',
        'GENERATORSTATUS',
        'TUBEHEAT',
        'AECDENSITY',
        'AECFIELD',
        'AECFILM',
      ]) {
        assert.ok(before[key], key);
      }
      assert.equal((await device('action', request('IncParam_KV'))).status, 200);
      assert.equal(Number((await params()).KV.Value), Number(before.KV.Value) + 1);
      assert.equal((await device('action', request('SetParam_MAS', '16'))).status, 200);
      const after = await params();
      assert.equal(Number(after.MAS.Value), 16);
      assert.equal((Number(after.MA.Value) * Number(after.MS.Value)) / 1000, 16);
      const audit = await call(ctx.t.url, 'GET', '/api/v1/system/audit-logs?action=device.action', { token: ctx.admin });
      assert.ok(audit.body.data.items.length >= 2);
    });

    test('refusals: out of range, unknown action, unknown device, bad bodies', async () => {
      const before = await params();
      const cases: [unknown, number, string][] = [
        [request('SetParam_KV', '200'), 422, '0x080003'],
        [request('SetParam_KV', 'high'), 422, '0x080003'],
        [request('SelfDestruct'), 422, '0x080002'],
        [request('IncParam_KV', '', 'DIOS/DEVICE/Grid'), 404, '0x080001'],
        [request('IncParam_KV', '', 'DIOS/DEVICE/Detector'), 422, '0x080002'],
        [{ deviceUri: 'DIOS/DEVICE/Generator' }, 400, '0x010001'],
        [{ ...request('SetParam_KV'), reqParam: 80 }, 400, '0x010001'],
      ];
      for (const [body, status, code] of cases) {
        const res = await device('action', body);
        assert.equal(res.status, status, JSON.stringify(body));
        assert.ok(isDrError(res.body, code), res.text);
      }
      assert.deepEqual((await params()).KV, before.KV, 'refused actions change nothing');
    });

    test('the detector reports its matrix and state', async () => {
      const res = await device('get', request('', '', 'DIOS/DEVICE/Detector'));
      assert.equal(res.status, 200);
      const map = JSON.parse(res.body.data);
      assert.deepEqual(
        [map.Rows.Value, map.Columns.Value, map.BitsStored.Value, map.DETECTORSTATUS.Value],
        ['512', '512', '14', 'DETECTOR_STATUS_STANDBY'],
      );
    });

    test('the guest may drive devices (emergency workflow); a user without device permissions may not', async () => {
      const guest = (await call(ctx.t.url, 'GET', '/dr/api/v1/pub/software_info')).body.data.guest;
      assert.ok((await params(guest)).KV);
      assert.equal((await device('action', request('DecParam_KV'), guest)).status, 200);
      const nobody = await createUser(ctx.t.url, ctx.admin, []);
      assert.equal((await device('get', request(''), nobody.token)).status, 403);
    });
  });
}
