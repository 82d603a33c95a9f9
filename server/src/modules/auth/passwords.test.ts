import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from '../../util/errors.js';
import { assertStrongPassword, generatePassword, hashPassword, verifyPassword } from './passwords.js';

test('argon2id hashes verify only the right password', async () => {
  const stored = await hashPassword('Secret123');
  assert.match(stored, /^\$argon2id\$/);
  assert.equal(await verifyPassword(stored, 'Secret123'), true);
  assert.equal(await verifyPassword(stored, 'secret123'), false);
  assert.equal(await verifyPassword('not-a-hash', 'Secret123'), false);
});

test('weak passwords are refused with the field named', () => {
  for (const weak of [
    'short1',
    'allletters',
    '12345678',
    'x'.repeat(127) + '1'.repeat(2),
    'password1',
    'admin1234',
    'Password123',
    'Radiology2025',
  ]) {
    assert.throws(
      () => assertStrongPassword(weak, 'new_password'),
      (e: unknown) => e instanceof AppError && e.errorName === 'WEAK_PASSWORD' && e.details[0]?.field === 'new_password',
    );
  }
  assert.doesNotThrow(() => assertStrongPassword('Xr4y-Console-2025'));
});

test('the username counts as known to the attacker', () => {
  assert.doesNotThrow(() => assertStrongPassword('marguerite-1987'));
  assert.throws(
    () => assertStrongPassword('marguerite-1987', 'password', ['marguerite']),
    (e: unknown) => e instanceof AppError && e.errorName === 'WEAK_PASSWORD',
  );
});

test('generated passwords satisfy the policy and differ', () => {
  const a = generatePassword();
  assert.doesNotThrow(() => assertStrongPassword(a));
  assert.notEqual(a, generatePassword());
});
