import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { wasmEncode, type WasmCodecName } from './codecs.js';
import { bytesOf, testPattern, writeFixture, type FixtureImage } from '../../test-support/dicom-fixtures.js';
import { decodeFrame } from './pixels.js';
import { DicomReadError, readDicom, TRANSFER_SYNTAX as TS, UnsupportedTransferSyntaxError } from './reader.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-pixels-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const rows = 48;
const columns = 64;
const grey12 = testPattern(rows, columns, 12);
const grey8 = Uint8Array.from(testPattern(rows, columns, 8));
const base12: FixtureImage = { rows, columns, bitsAllocated: 16, bitsStored: 12, frames: [bytesOf(grey12)] };
const base8: FixtureImage = { rows, columns, bitsAllocated: 8, bitsStored: 8, frames: [grey8] };

/** Runs a DCMTK converter on a fixture and returns the converted file. */
function dcmtk(tool: string, args: string[], input: Buffer): Buffer {
  const source = path.join(dir, `${tool}-${Math.random().toString(36).slice(2)}-in.dcm`);
  const target = source.replace('-in.dcm', '-out.dcm');
  fs.writeFileSync(source, input);
  execFileSync(tool, [...args, source, target], { stdio: 'pipe' });
  return fs.readFileSync(target);
}

function differences(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let n = 0;
  for (let i = 0; i < expected.length; i += 1) if (actual[i] !== expected[i]) n += 1;
  return n;
}

async function decodedGrey(file: Buffer, expectedSyntax: string) {
  const parsed = readDicom(file);
  assert.equal(parsed.meta.transferSyntaxUid, expectedSyntax);
  const frame = await decodeFrame(parsed);
  assert.equal(frame.kind, 'grey');
  return frame.data;
}

describe('every transfer syntax decodes to the pixels that went in', () => {
  const native12 = writeFixture(base12);
  const native8 = writeFixture(base8);

  const conversions: [string, string, string[], Buffer, string, ArrayLike<number>][] = [
    ['implicit VR little endian (dcmconv)', 'dcmconv', ['+ti'], native12, TS.IMPLICIT_LE, grey12],
    ['explicit VR big endian (dcmconv)', 'dcmconv', ['+tb'], native12, TS.EXPLICIT_BE, grey12],
    ['deflated (dcmconv)', 'dcmconv', ['+td'], native12, TS.DEFLATED_LE, grey12],
    ['RLE 16-bit (dcmcrle)', 'dcmcrle', [], native12, TS.RLE, grey12],
    ['RLE 8-bit (dcmcrle)', 'dcmcrle', [], native8, TS.RLE, grey8],
    ['JPEG lossless SV1 (dcmcjpeg)', 'dcmcjpeg', ['+e1'], native12, TS.JPEG_LOSSLESS_SV1, grey12],
    ['JPEG lossless process 14 (dcmcjpeg)', 'dcmcjpeg', ['+el'], native12, TS.JPEG_LOSSLESS, grey12],
    ['JPEG-LS lossless (dcmcjpls)', 'dcmcjpls', ['+el'], native12, TS.JPEG_LS_LOSSLESS, grey12],
  ];
  for (const [name, tool, args, input, syntax, expected] of conversions) {
    test(name, async () => {
      assert.equal(differences(await decodedGrey(dcmtk(tool, args, input), syntax), expected), 0);
    });
  }

  test('JPEG lossless, all seven predictors, 16-bit, odd size (two decoder bugs worked around)', async () => {
    const noisy = testPattern(37, 53, 16).map((v, i) => (v + ((i * 7919) % 97)) & 0xffff);
    const native = writeFixture({ rows: 37, columns: 53, bitsAllocated: 16, bitsStored: 16, frames: [bytesOf(noisy)] });
    for (let predictor = 1; predictor <= 7; predictor += 1) {
      const data = await decodedGrey(dcmtk('dcmcjpeg', ['+el', '+sv', String(predictor)], native), TS.JPEG_LOSSLESS);
      assert.equal(differences(data, noisy), 0, `predictor ${predictor}`);
    }
  });

  const wasm: [string, WasmCodecName, string][] = [
    ['JPEG 2000 lossless (OpenJPEG)', 'openjpeg', TS.J2K_LOSSLESS],
    ['HTJ2K lossless (OpenJPH)', 'openjph', TS.HTJ2K_LOSSLESS],
    ['JPEG-LS lossless (CharLS)', 'charls', TS.JPEG_LS_LOSSLESS],
  ];
  for (const [name, codec, syntax] of wasm) {
    test(name, async () => {
      const encoded = await wasmEncode(
        codec,
        { width: columns, height: rows, bitsPerSample: 12, componentCount: 1, isSigned: false },
        bytesOf(grey12),
      );
      const file = writeFixture({ ...base12, frames: [encoded], transferSyntaxUid: syntax });
      assert.equal(differences(await decodedGrey(file, syntax), grey12), 0);
    });
  }

  test('JPEG baseline 8-bit (dcmcjpeg) decodes within lossy tolerance', async () => {
    const data = await decodedGrey(dcmtk('dcmcjpeg', ['+eb', '+q', '95'], native8), TS.JPEG_BASELINE);
    let worst = 0;
    for (let i = 0; i < grey8.length; i += 1) worst = Math.max(worst, Math.abs(data[i] - grey8[i]));
    assert.ok(worst <= 48, `largest error ${worst}`);
    const mean = Array.from(data).reduce((s, v) => s + v, 0) / data.length;
    const expectedMean = grey8.reduce((s, v) => s + v, 0) / grey8.length;
    assert.ok(Math.abs(mean - expectedMean) < 2, `mean ${mean} vs ${expectedMean}`);
  });

  test('12-bit JPEG (process 2/4) is refused with a clear reason, not a crash', async () => {
    const parsed = readDicom(dcmtk('dcmcjpeg', ['+ee'], native12));
    assert.equal(parsed.meta.transferSyntaxUid, TS.JPEG_EXTENDED);
    await assert.rejects(decodeFrame(parsed), (e: unknown) => e instanceof UnsupportedTransferSyntaxError && /12-bit JPEG/.test(e.message));
  });
});

describe('colour, multi-frame and layouts', () => {
  const pixels = rows * columns;
  const rgb = new Uint8Array(pixels * 3).map((_, i) => (i * 37) % 256);

  test('RGB interleaved and planar give the same pixels', async () => {
    const planar = new Uint8Array(pixels * 3);
    for (let p = 0; p < pixels; p += 1) for (let c = 0; c < 3; c += 1) planar[c * pixels + p] = rgb[p * 3 + c]!;
    for (const [planarConfiguration, frame] of [
      [0, rgb],
      [1, planar],
    ] as const) {
      const file = writeFixture({
        rows,
        columns,
        bitsAllocated: 8,
        bitsStored: 8,
        samplesPerPixel: 3,
        planarConfiguration,
        frames: [frame],
      });
      const decoded = await decodeFrame(readDicom(file));
      assert.equal(decoded.kind, 'rgb');
      assert.equal(differences(decoded.data, rgb), 0, `planar ${planarConfiguration}`);
    }
  });

  test('YBR_FULL converts to RGB', async () => {
    const ybr = new Uint8Array(pixels * 3);
    for (let p = 0; p < pixels; p += 1) ybr.set([128, 128, 128], p * 3); // mid grey
    ybr.set([76, 85, 255], 0); // pure red in YCbCr
    const decoded = await decodeFrame(
      readDicom(
        writeFixture({ rows, columns, bitsAllocated: 8, bitsStored: 8, samplesPerPixel: 3, photometric: 'YBR_FULL', frames: [ybr] }),
      ),
    );
    assert.deepEqual(Array.from(decoded.data.subarray(3, 6)), [128, 128, 128]);
    assert.ok(
      decoded.data[0] > 250 && decoded.data[1] < 5 && decoded.data[2] < 5,
      `red came out as ${decoded.data.subarray(0, 3).join(',')}`,
    );
  });

  test('RLE colour (dcmcrle) matches the native RGB', async () => {
    const native = writeFixture({ rows, columns, bitsAllocated: 8, bitsStored: 8, samplesPerPixel: 3, frames: [rgb] });
    const decoded = await decodeFrame(readDicom(dcmtk('dcmcrle', [], native)));
    assert.equal(differences(decoded.data, rgb), 0);
  });

  test('multi-frame: each frame is its own, native and encapsulated', async () => {
    const second = grey12.map((v) => 4095 - v);
    const native = readDicom(writeFixture({ ...base12, frames: [bytesOf(grey12), bytesOf(second)] }));
    assert.equal(native.meta.numberOfFrames, 2);
    assert.equal(differences((await decodeFrame(native, 1)).data, second), 0);
    const encode = (p: Uint16Array) =>
      wasmEncode('charls', { width: columns, height: rows, bitsPerSample: 12, componentCount: 1 }, bytesOf(p));
    const jls = readDicom(
      writeFixture({ ...base12, frames: [await encode(grey12), await encode(second)], transferSyntaxUid: TS.JPEG_LS_LOSSLESS }),
    );
    assert.equal(differences((await decodeFrame(jls, 0)).data, grey12), 0);
    assert.equal(differences((await decodeFrame(jls, 1)).data, second), 0);
    await assert.rejects(decodeFrame(jls, 2), DicomReadError);
  });
});

describe('malformed input gets a DicomReadError', () => {
  test('not DICOM at all', () => {
    assert.throws(() => readDicom(Buffer.from('hello, this is not a DICOM file at all')), DicomReadError);
    assert.throws(() => readDicom(Buffer.alloc(0)), DicomReadError);
  });

  test('truncated pixel data', async () => {
    const file = writeFixture(base12);
    await assert.rejects(async () => decodeFrame(readDicom(file.subarray(0, file.length - 1000))), DicomReadError);
  });

  test('a compressed frame whose size disagrees with the header', async () => {
    const encoded = await wasmEncode('openjph', { width: 16, height: 16, bitsPerSample: 12, componentCount: 1 }, new Uint8Array(512));
    const file = writeFixture({ ...base12, frames: [encoded], transferSyntaxUid: TS.HTJ2K_LOSSLESS });
    await assert.rejects(decodeFrame(readDicom(file)), /16×16/);
  });

  test('corrupt compressed bytes', async () => {
    const file = writeFixture({ ...base12, frames: [new Uint8Array(200).fill(7)], transferSyntaxUid: TS.J2K_LOSSLESS });
    await assert.rejects(decodeFrame(readDicom(file)), DicomReadError);
  });
});
