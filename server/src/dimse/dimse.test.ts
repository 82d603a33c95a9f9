import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { wasmEncode } from '../dicom/codecs.js';
import { bytesOf, testPattern, writeFixture } from '../../test-support/dicom-fixtures.js';
import { elementOf, readDicom, TRANSFER_SYNTAX } from '../dicom/reader.js';
import { TAGS } from '../dicom/tags.js';
import { dxFor } from '../../test/dicom-helpers.js';
import { startStorescp, type Storescp } from '../../test-support/dicom-peers.js';
import { COMMAND, encodeCommand } from './command.js';
import { explicitToImplicit, splitPart10 } from './dataset.js';
import { Link } from './link.js';
import { decodeAssociateRequest, decodePData, encodeAssociateRequest, encodePData } from './pdu.js';
import { DimseServer } from './scp.js';
import { storeFiles } from './store-scu.js';
import { IMPLICIT_LE } from './scu.js';

test("A-ASSOCIATE-RQ round-trips; P-DATA fragments to the peer's PDU size and reassembles", () => {
  const rq = {
    calledAet: 'ORTHANC',
    callingAet: 'ROENTGEN',
    maxPduLength: 16384,
    implementationClassUid: '1.2.3',
    implementationVersion: 'X',
    contexts: [{ id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2.1', '1.2.840.10008.1.2'] }],
  };
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
  assert.deepEqual(
    pdvs.map((p) => p.last),
    [false, false, true],
  );
  assert.ok(Buffer.concat(pdvs.map((p) => p.data)).equals(data));
});

let implicitOnly: Storescp;
before(async () => {
  implicitOnly = await startStorescp({ args: ['--implicit'] });
});
after(() => implicitOnly.stop());

test('a peer that takes only implicit VR gets our explicit VR object converted, pixels and tags intact', async () => {
  const file = dxFor('1.2.826.0.1.3680043.2.1143.77');
  const converted = Buffer.concat(explicitToImplicit(splitPart10(file).dataset));
  assert.ok(converted.length < file.length, 'implicit drops the VR fields');
  const outcomes = await storeFiles(
    { host: '127.0.0.1', port: implicitOnly.port, callingAet: 'ROENTGEN', calledAet: implicitOnly.aet },
    [file],
    () => undefined,
  );
  assert.equal(outcomes[0].status, 0);
  const received = implicitOnly.files().find((f) => f.endsWith('1.2.826.0.1.3680043.2.1143.77'))!;
  const [a, b] = [readDicom(fs.readFileSync(received)), readDicom(file)];
  assert.equal(a.meta.transferSyntaxUid, IMPLICIT_LE);
  const pixels = (p: typeof a) =>
    Buffer.from(p.dataSet.byteArray.subarray(p.pixelData!.dataOffset, p.pixelData!.dataOffset + p.pixelData!.length));
  assert.ok(pixels(a).equals(pixels(b)));
  for (const tag of [TAGS.patientName, TAGS.patientId, TAGS.studyUid, TAGS.windowCenter, TAGS.sopClass])
    assert.equal(a.dataSet.string(tag), b.dataSet.string(tag), tag);
  // Sequences survive the conversion (View Code Sequence of the DX).
  assert.equal(
    elementOf(a.dataSet, TAGS.viewCodeSequence)?.items?.[0]?.dataSet?.string(TAGS.codeValue),
    elementOf(b.dataSet, TAGS.viewCodeSequence)?.items?.[0]?.dataSet?.string(TAGS.codeValue),
  );
});

test('a peer that takes only uncompressed syntaxes gets compressed objects decompressed: lossless pixels identical, lossy marked', async () => {
  const plain = await startStorescp(); // DCMTK's default: uncompressed transfer syntaxes only
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-decompress-'));
  try {
    const [rows, columns] = [40, 48];
    const frames = [testPattern(rows, columns, 12), testPattern(rows, columns, 12).map((v) => 4095 - v)];
    const jpegLs = writeFixture({
      rows,
      columns,
      bitsAllocated: 16,
      bitsStored: 12,
      transferSyntaxUid: TRANSFER_SYNTAX.JPEG_LS_LOSSLESS,
      frames: await Promise.all(
        frames.map((f) => wasmEncode('charls', { width: columns, height: rows, bitsPerSample: 12, componentCount: 1 }, bytesOf(f))),
      ),
    });
    const rgbPixels = new Uint8Array(rows * columns * 3).map((_, i) => [200, 60, 30][i % 3]);
    const rgbSource = path.join(work, 'rgb.dcm');
    fs.writeFileSync(rgbSource, writeFixture({ rows, columns, bitsAllocated: 8, bitsStored: 8, samplesPerPixel: 3, frames: [rgbPixels] }));
    execFileSync('dcmcjpeg', ['+eb', rgbSource, `${rgbSource}.jpg`], { stdio: 'pipe' });
    const jpegBaseline = fs.readFileSync(`${rgbSource}.jpg`);
    const sent = [jpegLs, jpegBaseline].map((f) => readDicom(f));
    assert.deepEqual(
      sent.map((p) => p.meta.transferSyntaxUid),
      [TRANSFER_SYNTAX.JPEG_LS_LOSSLESS, TRANSFER_SYNTAX.JPEG_BASELINE],
    );

    const outcomes = await storeFiles(
      { host: '127.0.0.1', port: plain.port, callingAet: 'ROENTGEN', calledAet: plain.aet },
      [jpegLs, jpegBaseline],
      () => undefined,
    );
    assert.deepEqual(
      outcomes.map((o) => o.status),
      [0, 0],
      JSON.stringify(outcomes),
    );
    const received = sent.map((p) =>
      readDicom(fs.readFileSync(plain.files().find((f) => f.endsWith(p.dataSet.string(TAGS.sopInstance)!))!)),
    );
    const pixels = (p: (typeof received)[number]) =>
      Buffer.from(p.dataSet.byteArray.subarray(p.pixelData!.dataOffset, p.pixelData!.dataOffset + p.pixelData!.length));

    const [ls, jpeg] = received as [(typeof received)[number], (typeof received)[number]];
    assert.ok([TRANSFER_SYNTAX.EXPLICIT_LE, TRANSFER_SYNTAX.IMPLICIT_LE].includes(ls.meta.transferSyntaxUid as never));
    assert.equal(ls.meta.numberOfFrames, 2);
    assert.ok(pixels(ls).equals(Buffer.concat(frames.map((f) => bytesOf(f)))), 'lossless frames arrive bit for bit');
    assert.equal(ls.dataSet.string(TAGS.lossyCompression), undefined, 'a lossless source is not marked lossy');
    assert.equal(ls.dataSet.string(TAGS.patientName), sent[0].dataSet.string(TAGS.patientName));

    assert.equal(jpeg.dataSet.string(TAGS.photometric), 'RGB');
    assert.equal(jpeg.dataSet.uint16(TAGS.planar), 0);
    assert.equal(jpeg.dataSet.string(TAGS.lossyCompression), '01', 'decompressed lossy stays marked lossy');
    assert.equal(jpeg.dataSet.string(TAGS.lossyCompressionMethod), 'ISO_10918_1');
    const rgb = pixels(jpeg);
    assert.equal(rgb.length, rgbPixels.length);
    assert.ok(
      rgb.every((v, i) => Math.abs(v - rgbPixels[i]) <= 6),
      'baseline JPEG decodes close to the original colours',
    );
  } finally {
    await plain.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
});

/** A socket stand-in: what the link writes is kept, what the test emits is received. */
class FakeSocket extends EventEmitter {
  written: Buffer[] = [];
  setNoDelay(): void {}
  cork(): void {}
  uncork(): void {}
  write(b: Buffer): boolean {
    this.written.push(Buffer.from(b));
    return true;
  }
  end(): void {}
  destroySoon(): void {}
}

test('messages reassemble from any chunking; a dataset not yet read survives the next one arriving', async () => {
  const message = (id: number, size: number) => {
    const dataset = Buffer.from(Array.from({ length: size }, (_, i) => (i * id) % 253));
    const command = encodePData(
      1,
      true,
      encodeCommand({ commandField: COMMAND.C_STORE_RQ, affectedSopClassUid: '1.2.3', messageId: id, dataSetType: 0 }),
      200,
    );
    return { dataset, wire: Buffer.concat([...command, ...encodePData(1, false, dataset, 300)]) };
  };
  const [a, b] = [message(1, 5_000), message(2, 7_000)];
  const wire = Buffer.concat([a.wire, b.wire]);
  const socket = new FakeSocket();
  const link = new Link(socket as unknown as Socket, () => undefined);
  // Chunks of 1 to 97 bytes, cutting headers and data anywhere; both messages arrive before either is read.
  for (let at = 0, n = 1; at < wire.length; at += n, n = ((n * 7) % 97) + 1) socket.emit('data', wire.subarray(at, at + n));
  const first = await link.nextMessage(1_000);
  assert.equal(first.command.messageId, 1);
  assert.ok(Buffer.concat(first.dataset!).equals(a.dataset), 'the first dataset intact after the second was reassembled');
  const second = await link.nextMessage(1_000);
  assert.equal(second.command.messageId, 2);
  assert.ok(Buffer.concat(second.dataset!).equals(b.dataset));
  // Once the reader waits for the next message it is done with the last: the buffer is reused.
  const c = message(3, 6_000);
  const waiting = link.nextMessage(1_000);
  socket.emit('data', c.wire);
  const third = await waiting;
  assert.ok(Buffer.concat(third.dataset!).equals(c.dataset));
  assert.ok(third.dataset![0].buffer === second.dataset![0].buffer, 'one buffer for the link');
});

test('files on disk are streamed in PDU-sized slots (readv) and arrive byte for byte, mixed with in-memory ones', async () => {
  const received = new Map<string, Buffer>();
  const scp = new DimseServer({
    aet: 'ROENTGEN',
    admit: async () => ({ accepted: true, mayStore: true }),
    maxPduLength: 4096,
    onStore: async (o) => {
      received.set(o.sopInstanceUid, Buffer.concat(o.dataset));
      return { status: 0 };
    },
  });
  const port = await scp.listen(0, '127.0.0.1');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-scu-'));
  try {
    const files = ['1.2.826.0.1.3680043.2.1143.81', '1.2.826.0.1.3680043.2.1143.82', '1.2.826.0.1.3680043.2.1143.83'].map((uid, i) =>
      dxFor(uid, {}, { rows: 400 + i, columns: 300 }),
    );
    const paths = files.map((f, i) => {
      const p = path.join(dir, `${i}.dcm`);
      fs.writeFileSync(p, f);
      return p;
    });
    const outcomes = await storeFiles(
      { host: '127.0.0.1', port, callingAet: 'ROENTGEN', calledAet: 'ROENTGEN' },
      [{ path: paths[0] }, files[1], { path: paths[2] }],
      () => undefined,
    );
    assert.deepEqual(
      outcomes.map((o) => o.status),
      [0, 0, 0],
    );
    for (const file of files) {
      const split = splitPart10(file);
      assert.ok(received.get(split.sopInstanceUid)?.equals(split.dataset), split.sopInstanceUid);
    }
  } finally {
    await scp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
