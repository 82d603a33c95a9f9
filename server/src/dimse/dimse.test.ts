import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { readDicom } from '../dicom/reader.js';
import { dxFor } from '../../test/dicom-helpers.js';
import { startStorescp, type Storescp } from '../../test/dicom-peers.js';
import { explicitToImplicit, splitPart10 } from './dataset.js';
import { decodeAssociateRequest, decodePData, encodeAssociateRequest, encodePData } from './pdu.js';
import { storeFiles } from './store-scu.js';
import { IMPLICIT_LE } from './scu.js';

test('A-ASSOCIATE-RQ round-trips; P-DATA fragments to the peer\'s PDU size and reassembles', () => {
  const rq = { calledAet: 'ORTHANC', callingAet: 'ROENTGEN', maxPduLength: 16384, implementationClassUid: '1.2.3', implementationVersion: 'X',
    contexts: [{ id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2.1', '1.2.840.10008.1.2'] }] };
  assert.deepEqual(decodeAssociateRequest(encodeAssociateRequest(rq).subarray(6)), rq);
  const data = Buffer.from(Array.from({ length: 40_000 }, (_, i) => i % 251));
  const buffers = encodePData(3, false, [data.subarray(0, 100), data.subarray(100)], 16384);
  const wire = Buffer.concat(buffers);
  const pdvs = [];
  for (let at = 0; at < wire.length;) {
    const length = wire.readUInt32BE(at + 2);
    assert.ok(6 + length <= 16384 + 6);
    pdvs.push(...decodePData(wire.subarray(at + 6, at + 6 + length)));
    at += 6 + length;
  }
  assert.equal(pdvs.length, 3);
  assert.deepEqual(pdvs.map((p) => p.last), [false, false, true]);
  assert.ok(Buffer.concat(pdvs.map((p) => p.data)).equals(data));
});

let implicitOnly: Storescp;
before(async () => { implicitOnly = await startStorescp({ args: ['--implicit'] }); });
after(() => implicitOnly.stop());

test('a peer that takes only implicit VR gets our explicit VR object converted, pixels and tags intact', async () => {
  const file = dxFor('1.2.826.0.1.3680043.2.1143.77');
  const converted = Buffer.concat(explicitToImplicit(splitPart10(file).dataset));
  assert.ok(converted.length < file.length, 'implicit drops the VR fields');
  const outcomes = await storeFiles({ host: '127.0.0.1', port: implicitOnly.port, callingAet: 'ROENTGEN', calledAet: implicitOnly.aet }, [file], () => undefined);
  assert.equal(outcomes[0]!.status, 0);
  const received = implicitOnly.files().find((f) => f.endsWith('1.2.826.0.1.3680043.2.1143.77'))!;
  const [a, b] = [readDicom(fs.readFileSync(received)), readDicom(file)];
  assert.equal(a.meta.transferSyntaxUid, IMPLICIT_LE);
  const pixels = (p: typeof a) => Buffer.from(p.dataSet.byteArray.subarray(p.pixelData!.dataOffset, p.pixelData!.dataOffset + p.pixelData!.length));
  assert.ok(pixels(a).equals(pixels(b)));
  for (const tag of ['x00100010', 'x00100020', 'x0020000d', 'x00281050', 'x00080016']) assert.equal(a.dataSet.string(tag), b.dataSet.string(tag), tag);
  // Sequences survive the conversion (View Code Sequence of the DX).
  assert.equal(a.dataSet.elements.x00540220?.items?.[0]?.dataSet?.string('x00080100'), b.dataSet.elements.x00540220?.items?.[0]?.dataSet?.string('x00080100'));
});
