import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { DIALECTS, call, createUser, isDrError, withServer } from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`PACS nodes on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const dr = (method: string, path: string, body?: unknown, token?: string) =>
      call(ctx.t.url, method, `/dr/api/v1/auth/${path}`, { token: token ?? ctx.admin, body });
    const node = (over: Record<string, unknown> = {}) => ({
      name: `pacs${randomUUID().slice(0, 6)}`,
      type: 'PACS',
      address: '127.0.0.1',
      port: 11112,
      aet: 'ORTHANC',
      aec: 'ROENTGEN',
      is_enabled: true,
      is_default: false,
      params: { verbose: true, debug: false },
      ...over,
    });
    const list = async () =>
      (await dr('GET', 'manage/pacs')).body.data.scp as {
        id: number;
        name: string;
        is_default: boolean;
        may_store: boolean;
        may_query: boolean;
        may_retrieve: boolean;
      }[];

    test('create, list (both routes), update, one default at a time, delete', async () => {
      const a = await dr('POST', 'manage/pacs', node({ is_default: true }));
      assert.equal(a.status, 200, a.text);
      const b = await dr('POST', 'manage/pacs', node({ is_default: true, address: '10.0.0.5', port: 104 }));
      const nodes = await list();
      const [na, nb] = [nodes.find((n) => n.id === a.body.data.id)!, nodes.find((n) => n.id === b.body.data.id)!];
      assert.deepEqual([na.is_default, nb.is_default], [false, true], 'the newer default takes the flag');
      const viaScp = await dr('GET', 'scp/pacs');
      assert.equal(viaScp.body.data['@type'], 'type.googleapis.com/dr.study.ScpList');
      assert.deepEqual(viaScp.body.data.scp, nodes);
      assert.deepEqual(Object.keys(nb).sort(), [
        'address',
        'aec',
        'aet',
        'charset',
        'id',
        'is_default',
        'is_enabled',
        'may_query',
        'may_retrieve',
        'may_store',
        'name',
        'params',
        'port',
        'type',
      ]);
      // Ours beside the spec's fields (issue 15): a new node may not store, query or retrieve until granted.
      assert.deepEqual([nb.may_store, nb.may_query, nb.may_retrieve], [false, false, false]);

      const changed = await dr('PUT', `manage/pacs/${na.id}`, node({ name: na.name, port: 4242, is_default: true }));
      assert.equal(changed.status, 200, changed.text);
      const after = await list();
      assert.deepEqual(
        after.filter((n) => n.is_default).map((n) => n.id),
        [na.id],
      );
      assert.equal((after.find((n) => n.id === na.id) as unknown as { port: number }).port, 4242);

      assert.equal((await dr('DELETE', `manage/pacs/${nb.id}`)).status, 200);
      const gone = await dr('DELETE', `manage/pacs/${nb.id}`);
      assert.equal(gone.status, 404);
      assert.ok(isDrError(gone.body, '0x0A0001'));
      assert.ok(isDrError((await dr('PUT', `manage/pacs/${nb.id}`, node())).body, '0x0A0001'));
      const taken = await dr('POST', 'manage/pacs', node({ name: na.name }));
      assert.equal(taken.status, 409);
    });

    test('validation as the spec says; nothing written on refusal', async () => {
      const before = (await list()).length;
      const bad: Record<string, unknown>[] = [
        { name: 'ab' },
        { name: 'x'.repeat(17) },
        { type: 'RIS' },
        { address: '0.0.0.0' },
        { address: '256.1.1.1' },
        { address: 'pacs.local' },
        { address: '1.2.3' },
        { port: 0 },
        { port: 65536 },
        { port: 104.5 },
        { aet: '' },
        { aet: 'A'.repeat(17) },
        { aet: 'A\\B' },
        { aec: '    ' },
        { is_enabled: 'yes' },
      ];
      for (const over of bad) {
        const res = await dr('POST', 'manage/pacs', node(over));
        assert.equal(res.status, 400, JSON.stringify(over));
        assert.ok(isDrError(res.body, '0x010001'), res.text);
      }
      assert.equal((await list()).length, before);
    });

    test('reading needs pacs:read, changing pacs:write', async () => {
      const nobody = await createUser(ctx.t.url, ctx.admin, []);
      assert.equal((await dr('GET', 'manage/pacs', undefined, nobody.token)).status, 403);
      assert.equal((await dr('POST', 'manage/pacs', node(), nobody.token)).status, 403);
    });
  });
}
