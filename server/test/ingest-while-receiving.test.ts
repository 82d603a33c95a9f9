import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { storeFiles } from '../src/dimse/store-scu.js';
import { generateUid } from '../src/util/uid.js';
import { dxFor } from './dicom-helpers.js';
import { DIALECTS, call, until, withServer } from './helpers.js';

const OBJECTS = 60;

for (const dialect of DIALECTS) {
  describe(`objects received by the SCP on ${dialect}`, () => {
    const ctx = withServer(dialect);

    test('become queryable while the association is still open and the sender does not pause', async () => {
      const allowed = await call(ctx.t.url, 'PUT', '/api/v1/system/configs/dicom.scp_allowed_aets', {
        token: ctx.admin,
        body: { config_value: 'SENDER' },
      });
      assert.equal(allowed.status, 200);
      const study = { instanceUid: generateUid(), id: '1', accessionNumber: '', referringPhysician: '', date: new Date() };
      const series = { instanceUid: generateUid(), number: 1, description: 'burst' };
      const dir = fs.mkdtempSync(path.join(ctx.t.dataDir, 'burst-'));
      const paths = Array.from({ length: OBJECTS }, (_, i) => {
        const file = path.join(dir, `${i}.dcm`);
        fs.writeFileSync(file, dxFor(generateUid(), { study, series }));
        return file;
      });
      const indexed = async () =>
        Number(
          (
            await ctx.t.server.db.kysely
              .selectFrom('images')
              .innerJoin('studies', 'studies.id', 'images.study_pk')
              .select((eb) => eb.fn.countAll().as('n'))
              .where('studies.study_instance_uid', '=', study.instanceUid)
              .executeTakeFirstOrThrow()
          ).n,
        );
      // Looked at once as the last object's answer comes, without waiting: indexing used to wait
      // until the sender paused, and nothing of a burst was in the index before its end.
      let seenBeforeTheEnd = -1;
      const outcomes = await storeFiles(
        { host: '127.0.0.1', port: ctx.t.server.dicomPort, callingAet: 'SENDER', calledAet: 'ROENTGEN' },
        paths.map((p) => ({ path: p })),
        () => undefined,
        async (_outcome, index) => {
          if (index === OBJECTS - 1) seenBeforeTheEnd = await indexed();
        },
      );
      assert.ok(outcomes.every((o) => o.status === 0));
      assert.ok(seenBeforeTheEnd > 0, `some of the burst is queryable before its end (saw ${seenBeforeTheEnd})`);
      await until('the whole burst indexed', async () => ((await indexed()) === OBJECTS ? true : undefined));
      await ctx.t.server.services.ingest.drain();
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });
}
