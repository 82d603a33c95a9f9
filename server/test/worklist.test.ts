import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startOrthanc, startWlmscpfs, type Wlmscp } from '../test-support/dicom-peers.js';
import { DIALECTS, call, isDrError, withServer } from './helpers.js';

const today = new Date().toISOString().slice(0, 10).replace(/-/g, '');

function item(o: { accession: string; patientId: string; name: string; studyUid: string; vet?: boolean }): string {
  return [
    '(0008,0005) CS  [ISO_IR 192]',
    `(0008,0050) SH  ${o.accession}`,
    '(0008,0090) PN  Ref^Doctor',
    `(0010,0010) PN  ${o.name}`,
    `(0010,0020) LO  ${o.patientId}`,
    '(0010,0030) DA  20180704',
    '(0010,0040) CS  M',
    ...(o.vet ? ['(0010,2201) LO  Canine', '(0010,2203) CS  ALTERED', '(0010,2292) LO  Beagle', '(0010,2297) PN  Owner^Olga'] : []),
    `(0020,000d) UI  ${o.studyUid}`,
    '(0032,1060) LO  Thorax two views',
    '(0040,0100) SQ',
    '(fffe,e000) -',
    '(0008,0060) CS  DX',
    '(0040,0001) AE  ROENTGEN',
    `(0040,0002) DA  ${today}`,
    '(0040,0003) TM  093000',
    '(0040,0007) LO  Thorax',
    '(0040,0009) SH  SPS1',
    '(fffe,e00d) -',
    '(fffe,e0dd) -',
    '(0040,1001) SH  RP1',
    '',
  ].join('\n');
}

for (const dialect of DIALECTS) {
  describe(`RIS worklist (MWL) on ${dialect}`, () => {
    const ctx = withServer(dialect, { DICOM_TIMEOUT_MS: '3000' });
    let ris: Wlmscp;
    const stamp = Date.now().toString().slice(-8);
    const human = {
      accession: `H${stamp}`,
      patientId: `MWLH${stamp}`,
      name: 'Worklist^Hannah',
      studyUid: `1.2.826.0.1.3680043.2.1143.${stamp}.1`,
    };
    const dog = {
      accession: `V${stamp}`,
      patientId: `MWLV${stamp}`,
      name: 'Rex',
      studyUid: `1.2.826.0.1.3680043.2.1143.${stamp}.2`,
      vet: true,
    };
    before(async () => {
      ris = await startWlmscpfs([item(human), item(dog)]);
    });
    after(() => ris.stop());
    const dr = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      call(ctx.t.url, 'POST', `/dr/api/v1/auth/${path}`, { token: ctx.admin, body, headers });
    const setConfig = (key: string, value: unknown) =>
      call(ctx.t.url, 'PUT', `/api/v1/system/configs/${key}`, { token: ctx.admin, body: { config_value: value } });

    test('without a RIS configured the query says so', async () => {
      const res = await dr('worklist/query', {});
      assert.equal(res.status, 409);
      assert.ok(isDrError(res.body, '0x0A0009'), res.text);
    });

    test('query by date and by accession; a veterinary item carries its responsible person', async () => {
      for (const [k, v] of [
        ['ris.address', '127.0.0.1'],
        ['ris.port', ris.port],
        ['ris.aet', ris.aet],
        ['ris.aec', 'ROENTGEN'],
      ] as const)
        assert.equal((await setConfig(k, v)).status, 200);
      const day = `${today.slice(0, 4)}-${today.slice(4, 6)}-${today.slice(6)}`;
      const all = await dr('worklist/query', { date_from: day, date_to: day, modality: 'DX' });
      assert.equal(all.status, 200, all.text);
      assert.equal(all.body.data['@type'], 'type.googleapis.com/dr.study.WorklistReply');
      assert.deepEqual(
        all.body.data.items.map((i: { accession_number: string }) => i.accession_number).sort(),
        [dog.accession, human.accession].sort(),
      );
      assert.match(all.body.data.output, /Received Final Find Response \(Success\), 2 match/);
      const one = await dr('worklist/query', { accession_number: dog.accession });
      assert.equal(one.body.data.items.length, 1);
      const rex = one.body.data.items[0];
      // wlmscpfs returns Responsible Person but not Species, Breed or Neutered (not in its key set);
      // those come from Orthanc's worklist plugin in a test below.
      assert.deepEqual(
        [rex.patient_id, rex.responsible_person, rex.patient_dob, rex.scheduled_step_id, rex.modality, rex.scheduled_datetime],
        [dog.patientId, 'Owner^Olga', '2018-07-04', 'SPS1', 'DX', `${today.slice(0, 4)}-${today.slice(4, 6)}-${today.slice(6)}T09:30:00`],
      );
      const none = await dr('worklist/query', { accession_number: 'NOSUCH' });
      assert.deepEqual(none.body.data.items, []);
      assert.equal((await dr('worklist/query', { patient_name: 'a*b' })).status, 400);
      assert.equal((await dr('worklist/query', { date_from: '23.11.2026' })).status, 400);
    });

    test("import registers the item with the RIS's Study Instance UID, once", async () => {
      const res = await dr(
        'worklist/import',
        {
          study_instance_uid: dog.studyUid,
          patient_type: 'Dog',
          patient_size: 'Medium',
          views: [{ view_id: 'View_Dog_TH_RL_01', procedure_id: '' }],
        },
        { Product: 'VETDROS' },
      );
      assert.equal(res.status, 200, res.text);
      const study = res.body.data;
      assert.deepEqual(
        [
          study.study_instance_uid,
          study.accession_number,
          study.patient_id,
          study.patient_name,
          study.owner_name,
          study.product,
          study.ref_physician,
        ],
        [dog.studyUid, dog.accession, dog.patientId, 'Rex', 'Owner^Olga', 'VETDROS', 'Ref^Doctor'],
      );
      assert.equal(JSON.parse(study.mwl).scheduled_step_id, 'SPS1');
      assert.equal(study.series[0].images.length, 1);
      const again = await dr(
        'worklist/import',
        {
          study_instance_uid: dog.studyUid,
          patient_type: 'Dog',
          patient_size: 'Medium',
          views: [{ view_id: 'View_Dog_TH_RL_01', procedure_id: '' }],
        },
        { Product: 'VETDROS' },
      );
      assert.ok(isDrError(again.body, '0x0A000B'), again.text);
      const missing = await dr('worklist/import', {
        study_instance_uid: '1.2.3.4.5.6',
        patient_type: 'Human',
        patient_size: 'Medium',
        views: [{ view_id: 'View_DX_T_A_CH_PA_00', procedure_id: '' }],
      });
      assert.ok(isDrError(missing.body, '0x0A000A'), missing.text);
    });

    test("from a RIS that returns them (Orthanc's worklist plugin), a veterinary item brings species, breed and neutered status into the study", async () => {
      const dogTwo = { ...dog, accession: `W${stamp}`, patientId: `MWLW${stamp}`, name: 'Bella', studyUid: `${dog.studyUid}1` };
      const orthanc = await startOrthanc({ worklists: [item(dogTwo)] });
      try {
        for (const [k, v] of [
          ['ris.port', orthanc.dicomPort],
          ['ris.aet', orthanc.aet],
        ] as const)
          assert.equal((await setConfig(k, v)).status, 200);
        const found = await dr('worklist/query', { accession_number: dogTwo.accession });
        assert.equal(found.status, 200, found.text);
        assert.equal(found.body.data.items.length, 1, found.text);
        const bella = found.body.data.items[0];
        assert.deepEqual(
          [bella.species, bella.breed, bella.sex_neutered, bella.responsible_person, bella.patient_id],
          ['Canine', 'Beagle', 'ALTERED', 'Owner^Olga', dogTwo.patientId],
        );
        const res = await dr(
          'worklist/import',
          {
            study_instance_uid: dogTwo.studyUid,
            patient_type: 'Dog',
            patient_size: 'Medium',
            views: [{ view_id: 'View_Dog_TH_RL_01', procedure_id: '' }],
          },
          { Product: 'VETDROS' },
        );
        assert.equal(res.status, 200, res.text);
        const study = res.body.data;
        assert.deepEqual(
          [study.variety, study.sex_neutered, study.owner_name, JSON.parse(study.mwl).species],
          ['Beagle', 'ALTERED', 'Owner^Olga', 'Canine'],
        );
      } finally {
        await orthanc.stop();
        await setConfig('ris.port', ris.port);
        await setConfig('ris.aet', ris.aet);
      }
    });

    test('a RIS that aborts the association (Orthanc refusing an unknown caller) is reported at once, not after the timeout', async () => {
      const orthanc = await startOrthanc({ worklists: [item(dog)], worklistsForUnknownCallers: false });
      try {
        for (const [k, v] of [
          ['ris.port', orthanc.dicomPort],
          ['ris.aet', orthanc.aet],
        ] as const)
          assert.equal((await setConfig(k, v)).status, 200);
        const started = Date.now();
        const res = await dr('worklist/query', { accession_number: dog.accession });
        assert.ok(Date.now() - started < 2_000, `answered after ${Date.now() - started} ms (the timeout is 3000)`);
        assert.equal(res.status, 502, res.text);
        assert.match(res.text, /aborted/);
      } finally {
        await orthanc.stop();
        await setConfig('ris.port', ris.port);
        await setConfig('ris.aet', ris.aet);
      }
    });

    test('a RIS that is down answers with the unreachable error', async () => {
      await ris.stop();
      try {
        const res = await dr('worklist/query', {});
        assert.equal(res.status, 502);
        assert.ok(isDrError(res.body, '0x0A0003'), res.text);
      } finally {
        ris = await startWlmscpfs([item(human), item(dog)]);
        await setConfig('ris.port', ris.port);
      }
    });
  });
}
