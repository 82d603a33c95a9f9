import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PLANNED_DIAGNOSIS, PLANNED_DR } from '../src/modules/planned/routes.js';
import { DIALECTS, call, isDiagnosisError, isDrError, withServer } from './helpers.js';

const concrete = (url: string) => url.replace(/:[a-z_]+/g, '1');

for (const dialect of DIALECTS) {
  describe(`routes not built yet on ${dialect}`, () => {
    const ctx = withServer(dialect);

    test('diagnosis routes of features not built yet answer 501 in the diagnosis envelope, naming the feature', async () => {
      for (const [feature, routes] of Object.entries(PLANNED_DIAGNOSIS)) {
        for (const { method, url } of routes) {
          const res = await call(ctx.t.url, method, concrete(url), {
            token: ctx.admin,
            body: method === 'GET' ? undefined : {},
            headers: { Language: 'en_US' },
          });
          assert.equal(res.status, 501, `${method} ${url}: ${res.text}`);
          assert.ok(isDiagnosisError(res.body, 501, 'NotImplementedError'), res.text);
          assert.ok(res.body.message.includes(feature), res.text);
        }
      }
    });

    test('DR routes not built yet answer 501 with the catalogue code under both prefixes', async () => {
      for (const routes of Object.values(PLANNED_DR)) {
        for (const { method, url } of routes) {
          for (const prefix of ['/dr/api/v1', '/api/v1']) {
            const res = await call(ctx.t.url, method, `${prefix}${concrete(url)}`, {
              token: ctx.admin,
              body: method === 'GET' ? undefined : {},
            });
            assert.equal(res.status, 501, `${method} ${prefix}${url}: ${res.text}`);
            assert.ok(isDrError(res.body, '0x0F0004'), res.text);
          }
        }
      }
    });

    test('an unknown route is still a 404, not a 501', async () => {
      const res = await call(ctx.t.url, 'GET', '/api/v1/no-such-thing', { token: ctx.admin });
      assert.equal(res.status, 404, res.text);
    });
  });
}
