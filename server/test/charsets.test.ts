import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readDataSet, text } from '../src/dicom/reader.js';
import { TAGS } from '../src/dicom/tags.js';
import { generateUid } from '../src/util/uid.js';
import { day, dcmtk, dumpedName, gb, LI_LEI, risItem, RIS_VARIANTS, SENT, withName } from '../test-support/charset-fixtures.js';
import { startOrthanc, startStorescp, startWlmscpfs, type Storescp, type Wlmscp } from '../test-support/dicom-peers.js';
import { dxFor } from './dicom-helpers.js';
import { DIALECTS, call, until, withServer } from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`Chinese names through every DICOM path on ${dialect}`, () => {
    const ctx = withServer(dialect, { DICOM_TIMEOUT_MS: '3000' });
    const stamp = Date.now().toString().slice(-8);
    let ris: Wlmscp;
    let scp: Storescp;
    before(async () => {
      ris = await startWlmscpfs(RIS_VARIANTS.map((v) => risItem(v, stamp)));
      scp = await startStorescp();
    });
    after(async () => {
      await ris.stop();
      await scp.stop();
    });
    const dr = (method: string, p: string, body?: unknown) => call(ctx.t.url, method, `/dr/api/v1/auth/${p}`, { token: ctx.admin, body });
    const setConfig = (key: string, value: unknown) =>
      call(ctx.t.url, 'PUT', `/api/v1/system/configs/${key}`, { token: ctx.admin, body: { config_value: value } });

    test('wlmscpfs items in UTF-8 and GB18030, declared or not, read as 李^雷; the name typed in Chinese finds them all', async () => {
      for (const [k, v] of [
        ['ris.address', '127.0.0.1'],
        ['ris.port', ris.port],
        ['ris.aet', ris.aet],
        ['ris.aec', 'ROENTGEN'],
      ] as const)
        assert.equal((await setConfig(k, v)).status, 200);
      const all = await dr('POST', 'worklist/query', { date_from: day, date_to: day });
      assert.equal(all.status, 200, all.text);
      const mine = (all.body.data.items as { accession_number: string; patient_name: string; scheduled_step_description: string }[])
        .filter((i) => i.accession_number.endsWith(stamp))
        .sort((a, b) => a.accession_number.localeCompare(b.accession_number));
      assert.deepEqual(
        mine.map((i) => [i.accession_number.slice(1, 4), i.patient_name, i.scheduled_step_description]),
        ['GBD', 'GBN', 'U8D', 'U8N'].map((key) => [key, LI_LEI, '胸部']),
      );
      for (const typed of ['李雷', '李^雷', '雷']) {
        const found = await dr('POST', 'worklist/query', { patient_name: typed });
        assert.equal(found.status, 200, found.text);
        const keys = (found.body.data.items as { accession_number: string }[]).filter((i) => i.accession_number.endsWith(stamp));
        assert.equal(keys.length, 4, `${typed}: ${found.text}`);
      }
      assert.deepEqual((await dr('POST', 'worklist/query', { patient_name: '韩梅梅' })).body.data.items, []);

      // The RIS as a node configured for GB18030: its undeclared text is read as GB18030 (UTF-8 bytes too: configured, not guessed).
      const node = await dr('POST', 'manage/pacs', {
        name: `ris${stamp.slice(-6)}`,
        type: 'PACS',
        address: '127.0.0.1',
        port: ris.port,
        aet: ris.aet,
        aec: 'ROENTGEN',
        is_enabled: true,
        is_default: false,
        charset: 'GB18030',
      });
      assert.equal(node.status, 200, node.text);
      try {
        const configured = await dr('POST', 'worklist/query', { date_from: day, date_to: day });
        const byKey = new Map(
          (configured.body.data.items as { accession_number: string; patient_name: string }[])
            .filter((i) => i.accession_number.endsWith(stamp))
            .map((i) => [i.accession_number.slice(1, 4), i.patient_name]),
        );
        // wlmscpfs never returns (0008,0005): its UTF-8 items, declared in its files or not, reach us undeclared.
        const utf8AsGb = new TextDecoder('gb18030').decode(Buffer.from(LI_LEI));
        assert.deepEqual(
          ['GBN', 'GBD', 'U8N', 'U8D'].map((k) => byKey.get(k)),
          [LI_LEI, LI_LEI, utf8AsGb, utf8AsGb],
        );
      } finally {
        assert.equal((await dr('DELETE', `manage/pacs/${node.body.data.id}`)).status, 200);
      }
    });

    test('imported from GB18030 without a declared set: the study, the DX written at exposure and the copy a PACS receives carry 李^雷', async () => {
      const uid = `1.2.826.0.1.3680043.2.1143.${stamp}.4`;
      const imported = await dr('POST', 'worklist/import', {
        study_instance_uid: uid,
        patient_type: 'Human',
        patient_size: 'Medium',
        views: [{ view_id: 'View_DX_T_A_SK_AP_00', procedure_id: '' }],
      });
      assert.equal(imported.status, 200, imported.text);
      const study = imported.body.data;
      assert.deepEqual([study.patient_name, study.comment], [LI_LEI, '胸部正位']);
      const sop: string = study.series[0].images[0].sop_instance_uid;
      assert.equal((await dr('POST', 'task/inspection/start', { instance_uid: sop })).status, 200);
      assert.equal((await dr('POST', 'task/inspection/trigger')).status, 200);
      await until(
        'the exposure stored',
        async () => {
          const image = (await dr('GET', `study/${study.study_id}`)).body.data.series[0].images[0];
          return image.storage_status === 'Saved' ? image : undefined;
        },
        30_000,
      );
      const dx = await fetch(`${ctx.t.url}/dr/api/v1/auth/f/dcm/${sop}.dcm`, { headers: { authorization: `Bearer ${ctx.admin}` } });
      const file = path.join(ctx.t.dataDir, `exposed-${sop}.dcm`);
      fs.writeFileSync(file, Buffer.from(await dx.arrayBuffer()));
      assert.equal(dumpedName(file), LI_LEI);
      assert.equal(text(readDataSet(fs.readFileSync(file)), TAGS.specificCharacterSet), 'ISO_IR 192');
      await dr('POST', 'task/inspection/leave', { study_id: study.study_id, study_status: 'Completed' });

      const node = `cs${stamp.slice(-6)}`;
      const added = await dr('POST', 'manage/pacs', {
        name: node,
        type: 'PACS',
        address: '127.0.0.1',
        port: scp.port,
        aet: scp.aet,
        aec: 'ROENTGEN',
        is_enabled: true,
        is_default: false,
      });
      assert.equal(added.status, 200, added.text);
      const sent = await dr('POST', 'scp/store', { sop_instance_uid: sop, pacs_name: node });
      assert.equal(sent.body.data?.ok, true, sent.text);
      const received = await until('storescp wrote it', async () => scp.files().find((f) => f.endsWith(sop)));
      assert.equal(dumpedName(received), LI_LEI);

      // A node configured for GB18030 gets the same object with its text in GB18030, declared so.
      const gbScp = await startStorescp({ aet: 'GBPACS' });
      try {
        const gbNode = `gb${stamp.slice(-6)}`;
        const gbBody = {
          name: gbNode,
          type: 'PACS',
          address: '127.0.0.1',
          port: gbScp.port,
          aet: gbScp.aet,
          aec: 'ROENTGEN',
          is_enabled: true,
          is_default: false,
          charset: 'GB18030',
        };
        const gbAdded = await dr('POST', 'manage/pacs', gbBody);
        assert.equal(gbAdded.status, 200, gbAdded.text);
        const listed = (await dr('GET', 'manage/pacs')).body.data.scp as { name: string; charset: string }[];
        assert.equal(listed.find((n) => n.name === gbNode)?.charset, 'GB18030');
        const refused = await dr('POST', 'manage/pacs', { ...gbBody, name: `x${gbNode}`, charset: 'LATIN9' });
        assert.equal(refused.status, 400);
        assert.match(refused.text, /charset/);
        const gbSent = await dr('POST', 'scp/store', { sop_instance_uid: sop, pacs_name: gbNode });
        assert.equal(gbSent.body.data?.ok, true, gbSent.text);
        const gbReceived = await until('storescp wrote it', async () => gbScp.files().find((f) => f.endsWith(sop)));
        assert.equal(dumpedName(gbReceived), LI_LEI);
        const raw = readDataSet(fs.readFileSync(gbReceived));
        const name = raw.elements[TAGS.patientName];
        assert.deepEqual([...raw.byteArray.subarray(name.dataOffset, name.dataOffset + name.length)], [...gb(LI_LEI), 0x20]);
        assert.equal(text(raw, TAGS.specificCharacterSet), 'GB18030');
      } finally {
        await gbScp.stop();
      }
    });

    test("Orthanc's worklist plugin as the RIS: items in UTF-8 and GB18030, declared or left to its DefaultEncoding, read as 李^雷", async () => {
      const orthanc = await startOrthanc({
        worklists: RIS_VARIANTS.filter((v) => v.encoding === 'gb18030' || v.charset).map((v) => risItem(v, `${stamp.slice(1)}9`)),
        // Orthanc converts its answers to the query's set (ours: ISO_IR 192) from the file's, or from this for files that declare none.
        config: { DefaultEncoding: 'Chinese' },
      });
      try {
        for (const [k, v] of [
          ['ris.address', '127.0.0.1'],
          ['ris.port', orthanc.dicomPort],
          ['ris.aet', orthanc.aet],
          ['ris.aec', 'ROENTGEN'],
        ] as const)
          assert.equal((await setConfig(k, v)).status, 200);
        const found = await dr('POST', 'worklist/query', { patient_name: '李雷' });
        assert.equal(found.status, 200, found.text);
        const items = (
          found.body.data.items as { accession_number: string; patient_name: string; requested_procedure_description: string }[]
        )
          .filter((i) => i.accession_number.endsWith(`${stamp.slice(1)}9`))
          .map((i) => [i.accession_number.slice(1, 4), i.patient_name, i.requested_procedure_description])
          .sort();
        assert.deepEqual(items, [
          ['GBD', LI_LEI, '胸部正位'],
          ['GBN', LI_LEI, '胸部正位'],
          ['U8D', LI_LEI, '胸部正位'],
        ]);
      } finally {
        await orthanc.stop();
        await setConfig('ris.port', ris.port);
        await setConfig('ris.aet', ris.aet);
      }
    });

    test('storescu into our SCP: objects in every declared set and undeclared ones show the right name, and a Chinese name finds them', async () => {
      assert.equal(
        (
          await call(ctx.t.url, 'PUT', '/api/v1/system/configs/dicom.scp_allowed_aets', {
            token: ctx.admin,
            body: { config_value: 'MODALITY' },
          })
        ).status,
        200,
      );
      const objects = SENT.map(([charset, name, shown], i) => {
        const studyUid = generateUid();
        const sop = generateUid();
        const base = dxFor(sop, {
          patient: { id: `CS${stamp}${i}`, name: 'Placeholder^Name', birthDate: '19800101', sex: 'M', age: '045Y' },
          study: { instanceUid: studyUid, id: `S${i}`, accessionNumber: `CS${i}`, referringPhysician: '', date: new Date() },
        });
        const file = path.join(ctx.t.dataDir, `sent-${i}.dcm`);
        fs.writeFileSync(file, withName(base, charset, name));
        // DCMTK checks the fixtures it can decode (not undeclared ones; glibc's iconv lacks JIS X 0208 for IR 87).
        if (charset !== undefined && !charset.includes('IR 87'))
          assert.equal(dumpedName(file), shown, `DCMTK reads fixture ${i} (${charset})`);
        return { file, studyUid, shown, charset };
      });
      const stored = await dcmtk('storescu', [
        '-aet',
        'MODALITY',
        '-aec',
        'ROENTGEN',
        '127.0.0.1',
        String(ctx.t.server.dicomPort),
        ...objects.map((o) => o.file),
      ]);
      assert.equal(stored.code, 0, stored.output);
      for (const o of objects) {
        const row = await until(`study ${o.charset} indexed`, () =>
          ctx.t.server.db.kysely.selectFrom('studies').selectAll().where('study_instance_uid', '=', o.studyUid).executeTakeFirst(),
        );
        const detail = (await dr('GET', `study/${row.study_id}`)).body.data;
        assert.equal(detail.patient_name, o.shown, `declared ${o.charset}`);
      }
      for (const typed of ['李^雷', '雷']) {
        const found = await dr('GET', `study?name=${encodeURIComponent(typed)}&page_size=100`);
        const ids = (found.body.data.studies as { patient_id: string }[]).filter((s) => s.patient_id.startsWith(`CS${stamp}`));
        assert.equal(ids.length, 6, `${typed}: ${found.text.slice(0, 300)}`);
      }
      const listed = await dr('GET', `study?name=${encodeURIComponent('李')}&page_size=100`);
      const names = (listed.body.data.studies as { patient_id: string; patient_name: string }[]).filter((s) =>
        s.patient_id.startsWith(`CS${stamp}`),
      );
      assert.deepEqual(names.map((s) => s.patient_name).sort(), [LI_LEI, LI_LEI, LI_LEI, 'Li^Lei=李^雷', LI_LEI, LI_LEI].sort());
    });

    test("a node's configured set reads its undeclared text (ISO_IR 100 here); the same bytes from an unconfigured sender follow the site rule", async () => {
      const node = await dr('POST', 'manage/pacs', {
        name: `lt${stamp.slice(-6)}`,
        type: 'PACS',
        address: '127.0.0.1',
        port: 104,
        aet: 'LATINMOD',
        aec: 'ROENTGEN',
        is_enabled: true,
        is_default: false,
        may_store: true,
        charset: 'ISO_IR 100',
      });
      assert.equal(node.status, 200, node.text);
      const latin = Buffer.from('Müller^Jörg', 'latin1');
      const sent = await Promise.all(
        ['LATINMOD', 'MODALITY'].map(async (aet, i) => {
          const studyUid = generateUid();
          const base = dxFor(generateUid(), {
            patient: { id: `LT${stamp}${i}`, name: 'Placeholder^Name', birthDate: '19800101', sex: 'M', age: '045Y' },
            study: { instanceUid: studyUid, id: `L${i}`, accessionNumber: `LT${i}`, referringPhysician: '', date: new Date() },
          });
          const file = path.join(ctx.t.dataDir, `latin-${i}.dcm`);
          fs.writeFileSync(file, withName(base, undefined, latin));
          const stored = await dcmtk('storescu', ['-aet', aet, '-aec', 'ROENTGEN', '127.0.0.1', String(ctx.t.server.dicomPort), file]);
          assert.equal(stored.code, 0, stored.output);
          return studyUid;
        }),
      );
      const names = await Promise.all(
        sent.map(async (studyUid) => {
          const row = await until('indexed', () =>
            ctx.t.server.db.kysely.selectFrom('studies').selectAll().where('study_instance_uid', '=', studyUid).executeTakeFirst(),
          );
          return row.patient_name;
        }),
      );
      assert.equal(names[0], 'Müller^Jörg');
      assert.equal(names[1], new TextDecoder('gb18030').decode(latin), 'not valid UTF-8, no set configured: GB18030');
    });
  });
}
