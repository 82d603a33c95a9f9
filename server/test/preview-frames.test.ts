import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { testPattern } from '../test-support/dicom-fixtures.js';
import { storeDx } from './dicom-helpers.js';
import { DIALECTS, call, sampleStudy, withServer } from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`previews of one image share its decoded frame on ${dialect}`, () => {
    // No rendered-preview cache: every request renders, from the frame cache.
    const ctx = withServer(dialect, { RENDER_CACHE_MB: '0' });

    test('several sizes, formats and windows, some at once, read and decode the file once', async () => {
      const res = await call(ctx.t.url, 'POST', '/dr/api/v1/auth/study', { token: ctx.admin, body: sampleStudy() });
      const uid: string = res.body.data.series[0].images[0].sop_instance_uid;
      await storeDx(ctx.t, uid, { pixels: { rows: 600, columns: 300, bitsStored: 14, data: testPattern(600, 300, 14) } });
      const files = ctx.t.server.services.imageFiles;
      const blobs = files.blobs;
      const read = blobs.read.bind(blobs);
      let reads = 0;
      blobs.read = (key: string) => {
        reads += 1;
        return read(key);
      };
      try {
        const preview = async (query: string) => {
          const r = await fetch(`${ctx.t.url}/api/v1/instances/${uid}/preview?${query}`, {
            headers: { authorization: `Bearer ${ctx.admin}` },
          });
          assert.equal(r.status, 200, query);
          return sharp(Buffer.from(await r.arrayBuffer())).metadata();
        };
        const [thumbnail, small, original] = await Promise.all([
          preview('size=thumbnail&format=webp'),
          preview('size=small&format=png'),
          preview('size=original&format=jpeg'),
        ]);
        assert.deepEqual([thumbnail.format, thumbnail.width, thumbnail.height], ['webp', 128, 256]);
        assert.deepEqual([small.format, small.width, small.height], ['png', 256, 512]);
        assert.deepEqual([original.format, original.width, original.height], ['jpeg', 300, 600]);
        await preview('size=medium&format=png&window_center=4000&window_width=2000');
        assert.equal(reads, 1, 'the file was read once for four previews');
        assert.ok(files.cache.frames.size >= 600 * 300 * 2, 'the decoded frame is held');
      } finally {
        blobs.read = read;
      }
    });
  });
}
