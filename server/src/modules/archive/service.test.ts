import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { writeDxParts } from '../../dicom/dx-writer.js';
import { readDicom } from '../../dicom/reader.js';
import { generateUid } from '../../util/uid.js';
import { dxFor, dxInput } from '../../../test/dicom-helpers.js';
import { newTestArchive } from '../../../test/fakes/archive.js';
import { DicomReadError } from '../../dicom/reader.js';
import { AppError } from '../../util/errors.js';
import { imageRow, unindexableReason } from './rows.js';
import { ownObject } from './service.js';

const isWebp = (b: Buffer | undefined) =>
  b !== undefined && b.subarray(0, 4).toString() === 'RIFF' && b.subarray(8, 12).toString() === 'WEBP';

/** A planned (unexposed) image in a study of the fake index, as registration leaves it. */
async function planned(repo: ReturnType<typeof newTestArchive>['repo'], sopInstanceUid = generateUid()) {
  const imagePk = await repo.insertImage(
    imageRow({
      sopInstanceUid,
      seriesPk: 1,
      studyPk: 7,
      viewId: 'V1',
      viewDescription: 'Chest PA',
      acquisitionMode: 'RAD',
      sort: 1,
      product: 'DROS',
      createdAt: 'now',
    }),
  );
  return { sopInstanceUid, imagePk };
}

describe('image rows', () => {
  test('a planned image waits for its exposure; a received one is exposed and saved with its file', () => {
    const fields = {
      sopInstanceUid: '1.2',
      seriesPk: 3,
      studyPk: 4,
      viewId: 'V',
      viewDescription: 'd',
      acquisitionMode: 'RAD',
      sort: 2,
      product: 'DROS',
      createdAt: 't',
    };
    const plannedRow = imageRow(fields);
    assert.equal(plannedRow.expose_status, 'Unexposed');
    assert.equal(plannedRow.storage_status, 'NotSaved');
    assert.equal('image_file' in plannedRow, false, 'the column keeps its default');
    const received = imageRow({ ...fields, storedAs: '1.2.dcm' });
    assert.deepEqual(
      { expose: received.expose_status, storage: received.storage_status, file: received.image_file },
      { expose: 'Exposed', storage: 'Saved', file: '1.2.dcm' },
    );
    for (const row of [plannedRow, received]) {
      assert.deepEqual(
        [row.judged_status, row.send_status, row.export_status, row.secondary_sop_uid],
        ['NotJudged', 'Unsent', 'NotExported', ''],
      );
      assert.deepEqual([row.sop_instance_uid, row.series_pk, row.study_pk, row.sort, row.acquisition_mode], ['1.2', 3, 4, 2, 'RAD']);
    }
  });

  test('the index needs Study and Series UIDs and the SOP Instance UID a command named', () => {
    const meta = { sopInstanceUid: '1', studyInstanceUid: '2', seriesInstanceUid: '3' };
    assert.equal(unindexableReason(meta), undefined);
    assert.equal(unindexableReason(meta, '1'), undefined);
    assert.match(unindexableReason(meta, '9') ?? '', /not the named 9/);
    assert.match(unindexableReason({ ...meta, seriesInstanceUid: '' }) ?? '', /Series/);
    assert.match(unindexableReason({ ...meta, studyInstanceUid: '' }) ?? '', /Study/);
  });
});

describe('exposure', () => {
  test('the object (its parts, not copied) and a WebP thumbnail are stored and the planned image marked Saved', async () => {
    const { archive, repo, blobs } = newTestArchive();
    const { sopInstanceUid, imagePk } = await planned(repo);
    const { parts, frame } = exposureParts(sopInstanceUid);
    const stored = await archive.storeInstance(ownObject(parts), { origin: 'exposure', sopInstanceUid, frame });
    assert.deepEqual(
      { dcm: stored.dcm, thumbnail: stored.thumbnail, studyPk: stored.studyPk, imagePk: stored.imagePk },
      { dcm: `${sopInstanceUid}.dcm`, thumbnail: `${sopInstanceUid}.webp`, studyPk: 7, imagePk },
    );
    assert.equal(
      blobs.writes.find((w) => w.key === `dicom/${sopInstanceUid}.dcm`)?.given,
      parts,
      'the parts go to the blob store as they are (one writev)',
    );
    assert.ok(isWebp(blobs.blobs.get(`thumbnail/${sopInstanceUid}.webp`)));
    const image = repo.tables.images.find((i) => i.id === imagePk)!;
    assert.deepEqual(
      [image.image_file, image.thumbnail_file, image.storage_status],
      [`${sopInstanceUid}.dcm`, `${sopInstanceUid}.webp`, 'Saved'],
    );
    const files = repo.tables.storedFiles.map((f) => [f.name, f.kind, f.role, f.image_pk, f.sop_instance_uid, f.study_pk]);
    assert.deepEqual(files.sort(), [
      [`${sopInstanceUid}.dcm`, 'dicom', 'image', imagePk, sopInstanceUid, 7],
      [`${sopInstanceUid}.webp`, 'thumbnail', 'image', imagePk, null, 7],
    ]);
    assert.equal(repo.transactions, 1, 'files and image columns commit together');
  });

  test('refused: no planned image, or an object of another SOP Instance; nothing is left behind', async () => {
    const { archive, repo, blobs } = newTestArchive();
    const { sopInstanceUid } = await planned(repo);
    await assert.rejects(
      archive.storeInstance(ownObject(dxFor('1.2.3.4')), { origin: 'exposure', sopInstanceUid: '1.2.3.4' }),
      (e: unknown) => e instanceof AppError && e.errorName === 'IMAGE_NOT_FOUND',
    );
    await assert.rejects(
      archive.storeInstance(ownObject(dxFor('1.2.3.999')), { origin: 'exposure', sopInstanceUid }),
      (e: unknown) => e instanceof DicomReadError && /SOP Instance UID 1\.2\.3\.999/.test(e.message),
    );
    assert.equal(blobs.blobs.size, 0);
    assert.equal(repo.tables.storedFiles.length, 0);
  });

  test('when the database step fails the blobs written are removed and the image stays unsaved', async () => {
    const { archive, repo, blobs } = newTestArchive();
    const { sopInstanceUid, imagePk } = await planned(repo);
    repo.failOn = 'setImageFiles';
    await assert.rejects(
      archive.storeInstance(ownObject(dxFor(sopInstanceUid)), { origin: 'exposure', sopInstanceUid }),
      /setImageFiles failed/,
    );
    assert.equal(blobs.blobs.size, 0, 'neither the object nor its thumbnail stays');
    assert.equal(repo.tables.storedFiles.length, 0, 'the registration rolled back');
    assert.equal(repo.tables.images.find((i) => i.id === imagePk)!.storage_status, 'NotSaved');
  });
});

describe('received objects (scp, upload, stow)', () => {
  const study = {
    instanceUid: generateUid(),
    id: 'S',
    accessionNumber: 'ACC1',
    referringPhysician: 'Dr^Who',
    date: new Date('2025-06-19T10:11:12Z'),
  };

  test('patient, study, series and image are created from the attributes, then found for the next object of the study', async () => {
    const { archive, repo } = newTestArchive();
    const series = { instanceUid: generateUid(), number: 3, description: 'Chest PA' };
    const a = generateUid();
    const b = generateUid();
    const stored = await archive.storeReceived(
      [
        ownObject(dxFor(a, { study, series, instance: { sopInstanceUid: a, number: 5, acquired: new Date() } })),
        ownObject(dxFor(b, { study, series, instance: { sopInstanceUid: b, number: 6, acquired: new Date() } })),
      ],
      'scp',
    );
    assert.equal(repo.transactions, 1, 'one transaction for the batch');
    assert.deepEqual(
      stored.map((s) => s.created),
      [true, true],
    );
    assert.equal(repo.tables.patients.length, 1);
    assert.equal(repo.tables.studies.length, 1);
    assert.equal(repo.tables.series.length, 1);
    const [patient, row, seriesRow] = [repo.tables.patients[0], repo.tables.studies[0], repo.tables.series[0]];
    assert.deepEqual([patient.patient_id, patient.name, patient.patient_type, patient.product], ['P1', 'Test^Patient', 'Human', 'DROS']);
    assert.deepEqual(
      [row.study_instance_uid, row.accession_number, row.study_status, row.study_start_datetime, row.patient_pk],
      [study.instanceUid, 'ACC1', 'Completed', '2025-06-19T10:11:12.000Z', patient.id],
    );
    assert.equal(JSON.parse(row.details).ref_physician, 'Dr^Who');
    assert.deepEqual([seriesRow.sort, seriesRow.protocol_code_meaning, seriesRow.body_part], [3, 'Chest PA', 'CHEST']);
    const images = repo.tables.images.map((i) => [
      i.sop_instance_uid,
      i.sort,
      i.expose_status,
      i.storage_status,
      i.image_file,
      i.acquisition_mode,
      i.view_description,
    ]);
    assert.deepEqual(images, [
      [a, 5, 'Exposed', 'Saved', `${a}.dcm`, 'DX', 'Chest PA'],
      [b, 6, 'Exposed', 'Saved', `${b}.dcm`, 'DX', 'Chest PA'],
    ]);
    assert.ok(
      stored.every((s) => s.thumbnail === undefined),
      'thumbnails of received objects are made later',
    );
  });

  test('the same instance again: the same bytes are done with nothing written, other bytes refused and the first copy kept', async () => {
    const { archive, repo } = newTestArchive();
    const uid = generateUid();
    const bytes = dxFor(uid);
    const first = await archive.storeInstance(ownObject(bytes), { origin: 'scp' });
    const transactions = repo.transactions;
    const again = await archive.storeInstance(ownObject(Buffer.from(bytes)), { origin: 'upload' });
    assert.deepEqual([first.created, again.created, again.imagePk, again.duplicate], [true, false, first.imagePk, 'same']);
    const other = await archive.storeInstance(
      ownObject(dxFor(uid, { patient: { id: 'EVIL', name: 'Mallory^Evil', birthDate: '', sex: 'O', age: '' } })),
      {
        origin: 'scp',
      },
    );
    assert.equal(other.duplicate, 'refused');
    assert.equal(repo.transactions, transactions + 2, 'one (empty) transaction each, no rows written');
    assert.equal(repo.tables.images.length, 1);
    assert.equal(repo.tables.storedFiles.filter((f) => f.name === `${uid}.dcm`).length, 1);
    assert.ok((await archive.blobs.read(`dicom/${uid}.dcm`)).equals(bytes), 'the first copy is what is stored');
  });

  test('a received object may not take the UID of an image planned here', async () => {
    const { archive, repo } = newTestArchive();
    const { sopInstanceUid: uid } = await planned(repo);
    assert.deepEqual(await archive.storedUnder(uid), { planned: true });
    assert.equal((await archive.storeInstance(ownObject(dxFor(uid)), { origin: 'scp' })).duplicate, 'refused');
  });

  test('a species makes the study veterinary and names the patient type; an existing patient keeps its type', async () => {
    const { archive, repo } = newTestArchive('DROS');
    const animal = { species: 'canine', breed: 'Beagle', owner: 'Smith', neutered: 'ALTERED' as const };
    await archive.storeInstance(
      ownObject(dxFor(generateUid(), { patient: { id: 'DOG1', name: 'Rex', birthDate: null, sex: 'M', age: '003Y', animal } })),
      { origin: 'stow' },
    );
    const patient = repo.tables.patients[0];
    assert.deepEqual(
      [patient.patient_type, patient.product, patient.variety, patient.owner_name, repo.tables.studies[0].product],
      ['Canine', 'VETDROS', 'Beagle', 'Smith', 'VETDROS'],
    );
    patient.patient_type = 'Feline';
    await archive.storeInstance(
      ownObject(dxFor(generateUid(), { patient: { id: 'DOG1', name: 'Rex', birthDate: null, sex: 'M', age: '003Y', animal } })),
      { origin: 'scp' },
    );
    assert.equal(repo.tables.patients.length, 1);
    assert.equal(JSON.parse(repo.tables.studies[1].details).patient_type, 'Feline');
  });

  test('a journal file is adopted, not copied; an object without its UIDs is refused before any blob is written', async () => {
    const { archive, repo, blobs } = newTestArchive();
    const uid = generateUid();
    const bytes = dxFor(uid);
    const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'archive-')), 'journal.dcm');
    await fs.writeFile(file, bytes);
    await archive.storeReceived([{ parsed: readDicom(bytes), content: { file, digest: { size: bytes.length, sha256: 'x' } } }], 'scp');
    assert.deepEqual(
      blobs.writes.map((w) => [w.key, w.how, w.given]),
      [[`dicom/${uid}.dcm`, 'adopt', file]],
    );
    assert.equal(repo.tables.storedFiles[0].sha256, 'x', 'the digest computed while reading is registered');
    await fs.rm(path.dirname(file), { recursive: true });
    const parsed = readDicom(dxFor(generateUid()));
    parsed.meta.seriesInstanceUid = '';
    await assert.rejects(
      archive.storeReceived([ownObject(dxFor(generateUid())), { parsed, content: { bytes } }], 'scp'),
      (e: unknown) => e instanceof DicomReadError && /Series/.test(e.message),
    );
    assert.equal(blobs.writes.length, 1, 'nothing of the refused batch was written');
  });

  test('a failed transaction rolls back every row of the batch', async () => {
    const { archive, repo } = newTestArchive();
    repo.failOn = 'insertImage';
    await assert.rejects(archive.storeReceived([ownObject(dxFor(generateUid()))], 'scp'), /insertImage failed/);
    assert.deepEqual(
      [repo.tables.patients.length, repo.tables.studies.length, repo.tables.series.length, repo.tables.storedFiles.length],
      [0, 0, 0, 0],
    );
  });
});

describe('derived objects and thumbnails', () => {
  test("a portrait is filed in the study with its capture, and commits with the caller's change", async () => {
    const { archive, repo } = newTestArchive();
    const uid = generateUid();
    let ranInTransaction = 0;
    const stored = await archive.storeInstance(ownObject(dxFor(uid)), {
      origin: 'derived',
      role: 'portrait',
      studyPk: 9,
      capture: Buffer.from('png'),
      inTransaction: async () => {
        ranInTransaction = repo.transactions;
      },
    });
    assert.equal(ranInTransaction, 1);
    assert.deepEqual([stored.dcm, stored.imagePk], [`${uid}.dcm`, null]);
    assert.deepEqual(
      repo.tables.storedFiles.map((f) => [f.name, f.kind, f.role, f.study_pk, f.image_pk, f.content_type]),
      [
        [`${uid}.dcm`, 'dicom', 'portrait', 9, null, 'application/dicom'],
        [`${uid}.png`, 'capture', 'portrait', 9, null, 'image/png'],
      ],
    );
    assert.equal(repo.tables.images.length, 0, 'a derived object is no image of the study');
  });

  test("makeThumbnail renders a stored image's thumbnail and registers it, unless the image went meanwhile", async () => {
    const { archive, repo, blobs } = newTestArchive();
    const [stored] = await archive.storeReceived([ownObject(dxFor(generateUid()))], 'scp');
    const target = { imagePk: stored.imagePk!, studyPk: stored.studyPk, sopInstanceUid: stored.sopInstanceUid, blobKey: stored.blobKey };
    assert.deepEqual(await archive.thumbnailsMissing(10), [target]);
    assert.equal(await archive.makeThumbnail(target), true);
    assert.deepEqual(await archive.thumbnailsMissing(10), []);
    assert.ok(isWebp(blobs.blobs.get(`thumbnail/${target.sopInstanceUid}.webp`)));
    assert.equal(repo.tables.images[0].thumbnail_file, `${target.sopInstanceUid}.webp`);
    repo.tables.images = [];
    blobs.blobs.delete(`thumbnail/${target.sopInstanceUid}.webp`);
    assert.equal(await archive.makeThumbnail(target), false);
    assert.equal(blobs.blobs.has(`thumbnail/${target.sopInstanceUid}.webp`), false, 'the new blob of a deleted image is removed');
  });
});

/** A DX as the exposure writes it: consecutive parts, header first, and its frame at hand. */
function exposureParts(sopInstanceUid: string) {
  const input = dxInput(sopInstanceUid, {}, { rows: 64, columns: 48 });
  const { rows, columns, data } = input.pixels;
  return { parts: writeDxParts(input), frame: { kind: 'grey', rows, columns, data } as const };
}
