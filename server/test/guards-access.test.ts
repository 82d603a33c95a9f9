import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { storeDx } from './dicom-helpers.js';
import { DIALECTS, call, createUser, isDiagnosisError, isDrError, sampleStudy, withServer } from './helpers.js';

/**
 * Every route's declared access is enforced before its handler (and before validation): a
 * permission the caller lacks is FORBIDDEN, a route not meant for guests is GUEST_SCOPE even
 * when the guest holds its permission, no token is UNAUTHENTICATED.
 */
for (const dialect of DIALECTS) {
  describe(`route access on ${dialect}`, () => {
    const ctx = withServer(dialect);

    test('a permission the caller lacks is refused on both faces; one of the permissions a route lists is enough', async () => {
      // A radiologist reads studies but does not manage users or purge the bin.
      const doctor = await createUser(ctx.t.url, ctx.admin, ['doctor']);
      const users = await call(ctx.t.url, 'GET', '/api/v1/users', { token: doctor.token });
      assert.equal(users.status, 403);
      assert.ok(isDiagnosisError(users.body, 403, 'PermissionError'));
      const purge = await call(ctx.t.url, 'DELETE', '/dr/api/v1/auth/recycle_bin/clear', { token: doctor.token });
      assert.equal(purge.status, 403);
      assert.ok(isDrError(purge.body, '0x020008'), purge.text);
      assert.equal((await call(ctx.t.url, 'GET', '/dr/api/v1/auth/study', { token: doctor.token })).status, 200);
      // The file routes take study:read or study:emergency: the radiologist holds only the first.
      const study = (await call(ctx.t.url, 'POST', '/dr/api/v1/auth/study', { token: ctx.admin, body: sampleStudy() })).body.data;
      const uid: string = study.series[0].images[0].sop_instance_uid;
      await storeDx(ctx.t, uid);
      const file = await fetch(`${ctx.t.url}/dr/api/v1/auth/f/dcm/${uid}.dcm`, { headers: { authorization: `Bearer ${doctor.token}` } });
      assert.equal(file.status, 200, 'one of the listed permissions is enough');

      // No role at all: not even the study list; an invalid body is refused for access first.
      const nobody = await createUser(ctx.t.url, ctx.admin, []);
      const list = await call(ctx.t.url, 'GET', '/dr/api/v1/auth/study', { token: nobody.token });
      assert.equal(list.status, 403);
      assert.ok(isDrError(list.body, '0x020008'), list.text);
      const invalid = await call(ctx.t.url, 'POST', '/dr/api/v1/auth/study', { token: nobody.token, body: { nonsense: true } });
      assert.equal(invalid.status, 403, 'access before validation');
      assert.ok(isDrError(invalid.body, '0x020008'), invalid.text);
    });

    test('a guest holding a route’s permission is still refused where guests may not go', async () => {
      const guest = (await call(ctx.t.url, 'GET', '/dr/api/v1/pub/software_info')).body.data.guest as string;
      assert.ok(guest.length > 20);
      // The guest role has image:write, but save_as is not part of the emergency workflow.
      const saveAs = await call(ctx.t.url, 'POST', '/dr/api/v1/auth/image/save_as', { token: guest, body: { instance_uid: '1.2.3' } });
      assert.equal(saveAs.status, 403);
      assert.ok(isDrError(saveAs.body, '0x02000D'), saveAs.text);
      // A guest route it holds the permission for.
      assert.equal((await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: guest })).status, 200);
    });

    test('no token, or a malformed Authorization header, is unauthenticated on a protected route; public routes answer', async () => {
      const none = await call(ctx.t.url, 'GET', '/dr/api/v1/auth/study');
      assert.equal(none.status, 401);
      for (const header of ['Bearer', 'Bearer ', 'Basic abc', `Bearer ${ctx.admin} extra`]) {
        const res = await fetch(`${ctx.t.url}/dr/api/v1/auth/study`, { headers: { authorization: header } });
        assert.equal(res.status, 401, header);
      }
      assert.equal((await call(ctx.t.url, 'GET', '/dr/api/v1/pub/software_info')).status, 200);
    });
  });
}
