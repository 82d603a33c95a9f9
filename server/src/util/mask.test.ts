import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maskIdCard, maskPhone } from './mask.js';

test('phone numbers are masked as in the spec samples', () => {
  assert.equal(maskPhone('13812345678'), '138****5678');
  assert.equal(maskPhone('12345'), '*****');
  assert.equal(maskPhone(null), null);
  assert.equal(maskPhone(''), '');
});

test('ID card numbers keep the region prefix and last four', () => {
  assert.equal(maskIdCard('110101197903151234'), '110101********1234');
  assert.equal(maskIdCard('short'), '*****');
});
