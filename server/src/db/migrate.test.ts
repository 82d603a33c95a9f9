import assert from 'node:assert/strict';
import { test } from 'node:test';
import { otherSchemaVanished } from './migrate.js';

function pgError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

test('a migration is asked again only when another schema vanished under the catalogue scan', () => {
  assert.equal(otherSchemaVanished(pgError('schema "t_other" does not exist', '3F000'), 't_ours'), true);
  assert.equal(otherSchemaVanished(pgError('schema "t_other" does not exist', '3F000'), undefined), true);
  // Our own schema missing is a real error, as is anything else.
  assert.equal(otherSchemaVanished(pgError('schema "t_ours" does not exist', '3F000'), 't_ours'), false);
  assert.equal(otherSchemaVanished(pgError('relation "x" does not exist', '42P01'), 't_ours'), false);
  assert.equal(otherSchemaVanished('3F000', 't_ours'), false);
});
