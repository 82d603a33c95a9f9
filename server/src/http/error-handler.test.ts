import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { DicomReadError, UnsupportedTransferSyntaxError } from '../dicom/reader.js';
import { DimseError, type DimseFailureKind } from '../dimse/scu.js';
import { DeviceError } from '../modules/devices/driver.js';
import { AppError } from '../util/errors.js';
import { installErrorHandling } from './error-handler.js';
import { ERRORS, type CatalogueEntry } from './errors.js';

/** A bare server whose one route throws what the test gives it, answered by the one error handler. */
async function answerTo(error: unknown) {
  const app = Fastify({ logger: false });
  installErrorHandling(app, 'DROS');
  app.addHook('onRequest', async (request) => {
    request.language = 'en_US';
  });
  app.get('/api/v1/throw', async () => {
    throw error;
  });
  const res = await app.inject({ method: 'GET', url: '/api/v1/throw' });
  await app.close();
  return {
    status: res.statusCode,
    body: res.json<{ code: number; message: string; error: { type: string; details: { field: string; message: string }[] } }>(),
    headers: res.headers,
  };
}

function assertEntry(answer: Awaited<ReturnType<typeof answerTo>>, entry: CatalogueEntry): void {
  assert.equal(answer.status, entry.status, JSON.stringify(answer.body));
  assert.equal(answer.body.code, entry.status);
  assert.equal(answer.body.error.type, entry.type);
  assert.ok(answer.body.message.startsWith(entry.message.en_US), answer.body.message);
}

test('a catalogue error keeps its entry, fields, detail and headers', async () => {
  const answer = await answerTo(
    new AppError('ACCOUNT_LOCKED', [{ field: 'username', message: 'locked' }], 'for 60 s', { 'Retry-After': '60' }),
  );
  assertEntry(answer, ERRORS.ACCOUNT_LOCKED);
  assert.deepEqual(answer.body.error.details, [{ field: 'username', message: 'locked' }]);
  assert.equal(answer.body.message, `${ERRORS.ACCOUNT_LOCKED.message.en_US}: for 60 s`);
  assert.equal(answer.headers['retry-after'], '60');
});

test('an unreadable DICOM object is INVALID_DICOM, the reason on the field "file"', async () => {
  const answer = await answerTo(new DicomReadError('not a DICOM file: no DICM preamble'));
  assertEntry(answer, ERRORS.INVALID_DICOM);
  assert.deepEqual(answer.body.error.details, [{ field: 'file', message: 'not a DICOM file: no DICM preamble' }]);
});

test('pixels this server cannot decode are UNSUPPORTED_IMAGE, not INVALID_DICOM (the subclass wins)', async () => {
  const answer = await answerTo(new UnsupportedTransferSyntaxError('12-bit JPEG'));
  assertEntry(answer, ERRORS.UNSUPPORTED_IMAGE);
  assert.equal(answer.body.message, `${ERRORS.UNSUPPORTED_IMAGE.message.en_US}: 12-bit JPEG`);
});

test('each way a DIMSE exchange fails has its catalogue entry', async () => {
  const expected: Record<DimseFailureKind, CatalogueEntry> = {
    refused: ERRORS.DICOM_PEER_UNREACHABLE,
    unreachable: ERRORS.DICOM_PEER_UNREACHABLE,
    rejected: ERRORS.DICOM_ASSOCIATION_REJECTED,
    'no-context': ERRORS.DICOM_ASSOCIATION_REJECTED,
    timeout: ERRORS.DICOM_TIMEOUT,
    aborted: ERRORS.DICOM_PROTOCOL,
    protocol: ERRORS.DICOM_PROTOCOL,
  };
  for (const [kind, entry] of Object.entries(expected) as [DimseFailureKind, CatalogueEntry][]) {
    const answer = await answerTo(new DimseError(kind, `peer said ${kind}`));
    assertEntry(answer, entry);
    assert.ok(answer.body.message.endsWith(`: peer said ${kind}`), answer.body.message);
  }
});

test('a device refusal keeps its entry, and names the request input when it is about one', async () => {
  for (const name of ['DEVICE_PARAM_RANGE', 'DEVICE_ACTION_UNKNOWN', 'DEVICE_NOT_READY'] as const) {
    const plain = await answerTo(new DeviceError(name, 'the tube is too hot'));
    assertEntry(plain, ERRORS[name]);
    assert.deepEqual(plain.body.error.details, []);
    assert.ok(plain.body.message.endsWith(': the tube is too hot'));
  }
  const about = await answerTo(new DeviceError('DEVICE_PARAM_RANGE', 'kV 151 is outside 40–150').about('reqParam'));
  assertEntry(about, ERRORS.DEVICE_PARAM_RANGE);
  assert.deepEqual(about.body.error.details, [{ field: 'reqParam', message: 'kV 151 is outside 40–150' }]);
});

test('anything else is INTERNAL, with no detail leaked', async () => {
  const answer = await answerTo(new TypeError('secret internals'));
  assertEntry(answer, ERRORS.INTERNAL);
  assert.doesNotMatch(JSON.stringify(answer.body), /secret internals/);
});
