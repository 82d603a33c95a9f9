import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DIALECTS, SEED_PASSWORD, call, isDrError, login, withServer } from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`protocol library on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const get = (path: string, headers: Record<string, string> = {}) =>
      call(ctx.t.url, 'GET', `/dr/api/v1/auth/protocol/${path}`, { token: ctx.admin, headers });

    test('patient types and body parts are scoped by the Product header', async () => {
      const human = await get('patient_type');
      assert.deepEqual(
        human.body.data.patient_type_list.map((p: { patient_type_id: string; is_enabled: boolean }) => [p.patient_type_id, p.is_enabled]),
        [
          ['Human', true],
          ['SpecialType', false],
        ],
      );
      const vet = await get('patient_type?is_enabled=true', { Product: 'VETDROS' });
      assert.deepEqual(
        vet.body.data.patient_type_list.map((p: { patient_type_id: string }) => p.patient_type_id),
        ['Dog', 'Cat', 'Rabbit'],
      );
      const parts = await get('body_part?patient_type=Human&modality=DX&is_enabled=true', { Language: 'en_US' });
      const skull = parts.body.data.body_part_list.find((b: { body_part_id: string }) => b.body_part_id === 'Human_SKULL');
      assert.equal(skull.body_part_name, 'Skull');
      assert.equal(skull.category, 'DX');
      const zh = await get('body_part?patient_type=Human');
      assert.equal(zh.body.data.body_part_list[0].body_part_name, '颅骨');
      const dogParts = await get('body_part?patient_type=Dog', { Product: 'VETDROS' });
      assert.ok(dogParts.body.data.body_part_list.some((b: { body_part_id: string }) => b.body_part_id === 'Dog_THORAX'));
      const wrongProduct = await get('body_part?patient_type=Dog');
      assert.equal(wrongProduct.body.data.body_part_list.length, 0);
    });

    test('procedure list: counts, filters, paging and the sample fields', async () => {
      const all = await get('procedure?patient_type=Human&page=1&page_size=10000');
      assert.ok(all.body.data.count >= 150);
      assert.equal(all.body.data['@type'], 'type.googleapis.com/dr.protocol.ProcedureList');
      const skull = await get(
        'procedure?patient_type=Human&body_part=Human_SKULL&procedure_type=NORMAL&is_enabled=true&page=1&page_size=3',
      );
      assert.equal(skull.body.data.procedures.length, 3);
      const first = skull.body.data.procedures[0];
      assert.equal(first.procedure_id, 'P0-0002');
      assert.equal(first.procedure_name, '颅骨前后位 + 侧位');
      assert.equal(first.procedure_other_name, 'Skull AP + LAT');
      for (const key of [
        'procedure_code',
        'body_part_id',
        'procedure_type',
        'fast_search',
        'protocol_laterality',
        'procedure_category',
        'modality',
        'is_pre_install',
      ])
        assert.ok(key in first, key);
      const emergency = await get('procedure?procedure_type=EMERGENCY&page_size=100');
      assert.ok(
        emergency.body.data.count >= 5 &&
          emergency.body.data.procedures.every((p: { procedure_type: string }) => p.procedure_type === 'EMERGENCY'),
      );
      const page2 = await get('procedure?patient_type=Human&page=2&page_size=100');
      assert.equal(page2.body.data.procedures[0].procedure_id, all.body.data.procedures[100].procedure_id);
      assert.equal((await get('procedure?page=0')).status, 400);
      assert.equal((await get('procedure?page_size=10001')).status, 400);
      assert.equal((await get('procedure?procedure_type=URGENT')).status, 400);
    });

    test('views: list, by procedure, detail, config_object, pictograms resolve', async () => {
      const list = await get('view?patient_type=Human&page=1&page_size=10000');
      assert.ok(list.body.data.count >= 140);
      const byProc = await get('procedure/P0-0002/view');
      assert.deepEqual(
        byProc.body.data.views.map((v: { view_id: string }) => v.view_id),
        ['View_DX_T_A_SK_AP_00', 'View_DX_T_A_SK_LAT_00'],
      );
      const hand = await get('view/View_DX_T_A_HD_OBL_01', { Language: 'zh_CN' });
      assert.equal(hand.body.data['@type'], 'type.googleapis.com/dr.protocol.View');
      assert.equal(hand.body.data.view_name, '右手斜位');
      assert.equal(hand.body.data.config_object.DX.ImageLaterality, 'R');
      assert.equal(hand.body.data.apr_id, 'View_DX_T_A_HD_OBL_01');
      for (const view of list.body.data.views.slice(0, 40)) {
        const res = await fetch(`${ctx.t.url}/dr/api/v1/pub${view.view_icon_name}`);
        assert.equal(res.status, 200, view.view_icon_name);
        assert.match(res.headers.get('content-type') ?? '', /image\/svg\+xml/);
      }
      const missing = await get('view/View_DOES_NOT_EXIST');
      assert.equal(missing.status, 404);
      assert.ok(isDrError(missing.body, '0x050001'));
      assert.equal((await get('view/View_DX_T_A_HD_OBL_01', { Product: 'VETDROS' })).status, 404, 'views are per product');
      const traversal = await fetch(`${ctx.t.url}/dr/api/v1/pub/Image/Position/..%2F..%2F/package.json`);
      assert.equal(traversal.status, 404);
    });

    test('APR by view and by id: eight exposures, consistent; device and tech params', async () => {
      const apr = await get('view/View_DX_T_A_HD_OBL_01/apr');
      assert.equal(apr.body.data['@type'], 'type.googleapis.com/dr.protocol.AprReply');
      assert.equal(apr.body.data.exposures.length, 8);
      for (const e of apr.body.data.exposures) {
        const c = e.config_object.Common;
        assert.ok(Math.abs((c.mA * c.ms) / 1000 - c.mAs) < 1e-9);
      }
      assert.deepEqual((await get('apr/View_DX_T_A_HD_OBL_01')).body.data, apr.body.data);
      const device = await get('apr/View_DX_T_A_CH_PA_00/device?work_station_id=1');
      assert.equal(device.body.data.config_object.Common.SID, 180);
      const tech = await get('apr/View_DX_T_A_CH_PA_00/tech?work_station_id=1&patient_size=Medium');
      assert.equal(tech.body.data['@type'], 'type.googleapis.com/dr.protocol.TechParam');
      assert.equal(tech.body.data.ep.kV, 115);
      assert.equal(tech.body.data.dp.SID, 180);
      assert.equal((await get('apr/View_DX_T_A_CH_PA_00/tech?patient_size=Huge')).status, 400);
      assert.equal((await get('apr/nope/device')).status, 404);
    });

    test('editing an exposure row: the sample request, consistency, permission', async () => {
      const url = '/dr/api/v1/auth/protocol/apr/View_DX_T_A_HD_OBL_02';
      const sample = { work_station_id: 0, patient_size: 'Large', kV: 57.0, mA: 250.0, ms: 20.0, mAs: 5.0 };
      const res = await call(ctx.t.url, 'POST', url, { token: ctx.admin, body: sample });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.data, {});
      const apr = await get('apr/View_DX_T_A_HD_OBL_02');
      const row = apr.body.data.exposures.find(
        (e: { work_station_id: number; patient_size: string }) => e.work_station_id === 0 && e.patient_size === 'Large',
      );
      assert.deepEqual(
        [row.config_object.Common.kV, row.config_object.Common.mA, row.config_object.Common.ms, row.config_object.Common.mAs],
        [57, 250, 20, 5],
      );
      assert.equal(row.config_object.Common.AECField, '010', 'other fields are kept');
      const bad = await call(ctx.t.url, 'POST', url, { token: ctx.admin, body: { ...sample, mAs: 9 } });
      assert.equal(bad.status, 422);
      assert.ok(isDrError(bad.body, '0x050004'));
      for (const body of [
        { ...sample, kV: 200 },
        { ...sample, work_station_id: 2 },
        { ...sample, patient_size: 'XL' },
        { ...sample, mA: '250' },
      ]) {
        assert.equal((await call(ctx.t.url, 'POST', url, { token: ctx.admin, body })).status, 400, JSON.stringify(body));
      }
      const unchanged = await get('apr/View_DX_T_A_HD_OBL_02');
      assert.deepEqual(unchanged.body.data, apr.body.data);
      const tech = await login(ctx.t.url, 'tech', SEED_PASSWORD);
      assert.equal((await call(ctx.t.url, 'POST', url, { token: tech.token, body: sample })).status, 403);
    });

    test('thickness chart 1–50 cm', async () => {
      const res = await get('thickness/20/apr');
      assert.deepEqual(res.body.data, {
        '@type': 'type.googleapis.com/dr.protocol.ThicknessApr',
        thickness: 20,
        kV: 92,
        mA: res.body.data.mA,
        ms: res.body.data.ms,
        mAs: res.body.data.mAs,
      });
      assert.ok(Math.abs((res.body.data.mA * res.body.data.ms) / 1000 - res.body.data.mAs) < 1e-9);
      assert.equal((await get('thickness/0/apr')).status, 400);
      assert.equal((await get('thickness/51/apr')).status, 400);
    });
  });
}
