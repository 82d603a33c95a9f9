import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactUrl } from './log-redaction.js';

test('searched numbers and names do not reach the request log', () => {
  assert.equal(redactUrl('/api/v1/patients?page=1&search=13812345678&gender=male'), '/api/v1/patients?page=1&search=***&gender=male');
  assert.equal(
    redactUrl('/dr/api/v1/auth/study?patient_name=%E5%BC%A0%E4%B8%89&size=20'),
    '/dr/api/v1/auth/study?patient_name=***&size=20',
  );
  assert.equal(redactUrl('/x?id_card=110101199003074512&access_token=abc'), '/x?id_card=***&access_token=***');
  assert.equal(redactUrl('/api/v1/studies'), '/api/v1/studies');
});
