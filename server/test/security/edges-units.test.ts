import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkJsonText } from '../../src/http/input-hygiene.js';
import { isSecretConfig, isSensitiveConfig } from '../../src/modules/system/config-definitions.js';
import { AppError } from '../../src/util/errors.js';
import { isDicomString, isFreeText, isPastDateTime, isPersonName } from '../../src/util/text-formats.js';

function refusal(text: string): { name: string; field: string; message: string } | undefined {
  try {
    checkJsonText(text);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof AppError);
    const [detail] = error.details;
    return { name: error.errorName, field: detail.field, message: detail.message };
  }
}

test('duplicate keys are found at any depth, also when spelled with escapes; siblings and arrays are not duplicates', () => {
  assert.deepEqual(refusal('{"a":1,"a":2}'), { name: 'MALFORMED_BODY', field: 'a', message: 'duplicate key' });
  assert.deepEqual(refusal('{"x":{"y":[{"k":1,"k":2}]}}'), { name: 'MALFORMED_BODY', field: 'x.y.k', message: 'duplicate key' });
  assert.equal(refusal('{"ab":1,"a\\u0062":2}')?.message, 'duplicate key');
  assert.equal(refusal('[{"a":1},{"a":2}]'), undefined);
  assert.equal(refusal('{"a":{"a":{"a":1}},"b":"a"}'), undefined);
  assert.equal(refusal('{"a":"\\"a\\":1,","b":"{\\"a\\":2}"}'), undefined, 'keys inside string values are text');
});

test('NUL and unpaired surrogates in any string or key are refused; a proper pair passes', () => {
  assert.deepEqual(refusal('{"name":"a\\u0000b"}'), { name: 'VALIDATION', field: 'name', message: 'must not contain NUL characters' });
  assert.equal(refusal('{"name":"\\ud800"}')?.message, 'contains an unpaired UTF-16 surrogate');
  assert.equal(refusal('{"name":"\\udc00x"}')?.message, 'contains an unpaired UTF-16 surrogate');
  assert.equal(refusal('{"\\ud800":1}')?.message, 'contains an unpaired UTF-16 surrogate');
  assert.equal(refusal('["ok","\\ud83d\\ude00"]'), undefined);
});

test('a deeply nested body is scanned without recursion', () => {
  const depth = 100_000;
  assert.equal(refusal(`${'['.repeat(depth)}${']'.repeat(depth)}`), undefined);
});

test('text formats: names and ids refuse controls, backslash and (names) markup; free text keeps line breaks; dates 1900..now', () => {
  assert.ok(isPersonName('Müller^Hans=ミュラー'));
  for (const bad of ['a\u0000', 'a\r', 'a\n', 'a\t', 'a\u007f', 'a\u0085', 'a\\b', '<b>', '\ud800'])
    assert.equal(isPersonName(bad), false, bad);
  assert.ok(isDicomString('PET-123 (a)'));
  assert.equal(isDicomString('a\nb'), false);
  assert.ok(isFreeText('line one\r\nline two\tend'));
  assert.equal(isFreeText('bell\u0007'), false);
  const now = Date.parse('2026-06-01T12:00:00Z');
  assert.ok(isPastDateTime('1900-01-01T00:00:00Z', now));
  assert.ok(isPastDateTime('2026-06-01T08:00:00+08:00', now));
  for (const bad of [
    '1899-12-31T23:59:59Z',
    '1800-01-01T00:00:00Z',
    '2999-01-01T00:00:00Z',
    '2026-06-01T12:00:01Z',
    '2026-13-01T00:00:00Z',
    'yesterday',
  ])
    assert.equal(isPastDateTime(bad, now), false, bad);
});

test('sensitive configs: marked keys and every key under the guarded prefixes; secrets by name', () => {
  for (const key of [
    'files.public_dicom',
    'files.public_thumbnails',
    'export.directory',
    'dicom.scp_allowed_aets',
    'dicom.scp_accept_any',
    'security.rate_limit_per_minute',
    'auth.public_users',
    'guest.allowed_addresses',
    // The limits that keep the server up (attacker review after issue 15).
    'upload.max_file_size',
    'storage.min_free_bytes',
    'dicom.max_object_bytes',
  ])
    assert.ok(isSensitiveConfig(key), key);
  for (const key of ['system.name', 'system.language', 'ris.address', 'pacs.auto_send']) assert.equal(isSensitiveConfig(key), false, key);
  assert.ok(isSecretConfig('auth.oidc_client_secret'));
  assert.equal(isSecretConfig('system.secret_name'), false, 'only sensitive keys are blanked by name');
});
