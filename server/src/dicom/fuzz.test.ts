import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { wasmEncode, type WasmCodecName } from './codecs.js';
import { bytesOf, testPattern, writeFixture, type FixtureImage } from '../../test-support/dicom-fixtures.js';
import { decodeFrame } from './pixels.js';
import { DicomReadError, readDicom, TRANSFER_SYNTAX as TS } from './reader.js';
import { renderFrame } from './render.js';
import { mulberry32 } from '../util/random.js';

/**
 * ≥ 10,000 mutated files through read → decode → render. Each must either come out as an image
 * or be refused with a DicomReadError; anything else (a TypeError escaping, a hang, a dead wasm
 * codec) fails with the seed and mutation that caused it, so it can be replayed.
 */
const CASES = Number(process.env.ROENTGEN_FUZZ_CASES ?? 10_000);

function converted(tool: string, args: string[], input: Buffer, dir: string): Buffer {
  const source = path.join(dir, `${tool}-${args.join('')}-in.dcm`);
  fs.writeFileSync(source, input);
  execFileSync(tool, [...args, source, `${source}.out`], { stdio: 'pipe' });
  return fs.readFileSync(`${source}.out`);
}

async function seeds(): Promise<[string, Buffer][]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-fuzz-'));
  try {
    const rows = 40; // OpenJPEG's five default decomposition levels need ≥ 32 pixels a side
    const columns = 48;
    const grey = testPattern(rows, columns, 12);
    const base: FixtureImage = {
      rows,
      columns,
      bitsAllocated: 16,
      bitsStored: 12,
      frames: [bytesOf(grey)],
      window: { center: 2048, width: 4096 },
    };
    const native = writeFixture(base);
    const info = { width: columns, height: rows, bitsPerSample: 12, componentCount: 1 };
    const wasm = async (codec: WasmCodecName, ts: string) =>
      writeFixture({ ...base, frames: [await wasmEncode(codec, info, bytesOf(grey))], transferSyntaxUid: ts });
    const rgb = writeFixture({
      rows,
      columns,
      bitsAllocated: 8,
      bitsStored: 8,
      samplesPerPixel: 3,
      frames: [new Uint8Array(rows * columns * 3).fill(90)],
    });
    const grey8 = writeFixture({
      rows,
      columns,
      bitsAllocated: 8,
      bitsStored: 8,
      frames: [Uint8Array.from(testPattern(rows, columns, 8))],
    });
    return [
      ['explicit LE', native],
      ['multi-frame', writeFixture({ ...base, frames: [bytesOf(grey), bytesOf(grey)] })],
      [
        'VOI LUT',
        writeFixture({
          ...base,
          window: undefined,
          voiLut: { firstMapped: 0, bits: 8, data: Uint16Array.from({ length: 4096 }, (_, i) => i >> 4) },
        }),
      ],
      ['RGB', rgb],
      ['implicit LE', converted('dcmconv', ['+ti'], native, dir)],
      ['big endian', converted('dcmconv', ['+tb'], native, dir)],
      ['deflated', converted('dcmconv', ['+td'], native, dir)],
      ['RLE', converted('dcmcrle', [], native, dir)],
      ['RLE RGB', converted('dcmcrle', [], rgb, dir)],
      ['JPEG lossless', converted('dcmcjpeg', ['+e1'], native, dir)],
      ['JPEG baseline', converted('dcmcjpeg', ['+eb'], grey8, dir)],
      ['JPEG-LS', await wasm('charls', TS.JPEG_LS_LOSSLESS)],
      ['J2K', await wasm('openjpeg', TS.J2K_LOSSLESS)],
      ['HTJ2K', await wasm('openjph', TS.HTJ2K_LOSSLESS)],
    ];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

type Mutation = (bytes: Buffer, random: () => number) => Buffer;
const at = (bytes: Buffer, random: () => number) => Math.floor(random() * bytes.length);
/** Mostly the header and fragment tables, where a flipped byte changes what the parser believes. */
const headerBiased = (bytes: Buffer, random: () => number) =>
  random() < 0.7 ? Math.floor(random() * Math.min(bytes.length, 600)) : at(bytes, random);
const MUTATIONS: [string, Mutation][] = [
  [
    'flip bits',
    (b, r) => {
      const c = Buffer.from(b);
      for (let i = 0; i < 1 + r() * 8; i += 1) c[headerBiased(c, r)] ^= 1 << Math.floor(r() * 8);
      return c;
    },
  ],
  [
    'random bytes',
    (b, r) => {
      const c = Buffer.from(b);
      for (let i = 0; i < 1 + r() * 4; i += 1) c[headerBiased(c, r)] = Math.floor(r() * 256);
      return c;
    },
  ],
  [
    'huge length',
    (b, r) => {
      const c = Buffer.from(b);
      const p = headerBiased(c, r) & ~1;
      if (p + 4 <= c.length) c.writeUInt32LE([0xffffffff, 0x7fffffff, 0xfffffffe, 0x10000][Math.floor(r() * 4)], p);
      return c;
    },
  ],
  ['truncate', (b, r) => b.subarray(0, at(b, r))],
  [
    'cut a hole',
    (b, r) => {
      const p = at(b, r);
      return Buffer.concat([b.subarray(0, p), b.subarray(Math.min(b.length, p + 1 + Math.floor(r() * 64)))]);
    },
  ],
  [
    'insert bytes',
    (b, r) => {
      const p = headerBiased(b, r);
      const junk = Buffer.from(Array.from({ length: 1 + Math.floor(r() * 16) }, () => Math.floor(r() * 256)));
      return Buffer.concat([b.subarray(0, p), junk, b.subarray(p)]);
    },
  ],
  [
    'zero a run',
    (b, r) => {
      const c = Buffer.from(b);
      c.fill(0, headerBiased(c, r), Math.min(c.length, headerBiased(c, r) + 32));
      return c;
    },
  ],
];

test(`fuzz: ${CASES} mutated files are read, decoded and rendered or refused cleanly`, { timeout: 300_000 }, async (t) => {
  const inputs = await seeds();
  const outcomes = { rendered: 0, refused: 0 };
  for (let n = 0; n < CASES; n += 1) {
    const random = mulberry32(n + 1);
    const [seedName, seed] = inputs[n % inputs.length];
    let bytes = seed;
    const applied: string[] = [];
    for (let m = 0; m < 1 + Math.floor(random() * 3); m += 1) {
      const [name, mutate] = MUTATIONS[Math.floor(random() * MUTATIONS.length)];
      bytes = mutate(bytes, random);
      applied.push(name);
    }
    try {
      const parsed = readDicom(bytes);
      const frame = await decodeFrame(parsed);
      await renderFrame(frame, parsed.meta, { size: 'thumbnail', format: 'jpeg' });
      outcomes.rendered += 1;
    } catch (error) {
      if (!(error instanceof DicomReadError)) {
        assert.fail(
          `case ${n} (${seedName}: ${applied.join(', ')}) escaped as ${(error as { constructor?: { name: string } } | null | undefined)?.constructor?.name}: ${String(error)}`,
        );
      }
      outcomes.refused += 1;
    }
  }
  // Every codec still decodes an intact file after all that (a crashed wasm instance would not).
  for (const [name, seed] of inputs) {
    const parsed = readDicom(seed);
    assert.equal((await decodeFrame(parsed)).rows, 40, name);
  }
  t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}`);
  assert.equal(outcomes.rendered + outcomes.refused, CASES);
  assert.ok(
    outcomes.refused > CASES / 10 && outcomes.rendered > CASES / 10,
    `outcomes ${JSON.stringify(outcomes)}: the mutations must both break and spare files`,
  );
});
