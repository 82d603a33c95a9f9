import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressAllowed, plainAddress } from './addresses.js';

test('an empty list allows any console address', () => {
  assert.equal(addressAllowed('203.0.113.9', ''), true);
  assert.equal(addressAllowed('::1', ' , '), true);
});

test('addresses and CIDR blocks, IPv4 written as IPv6 included', () => {
  const list = '10.0.0.0/8, 192.168.1.7 2001:db8::/32';
  assert.equal(addressAllowed('10.20.30.40', list), true);
  assert.equal(addressAllowed('::ffff:10.20.30.40', list), true);
  assert.equal(addressAllowed('192.168.1.7', list), true);
  assert.equal(addressAllowed('192.168.1.8', list), false);
  assert.equal(addressAllowed('2001:db8::5', list), true);
  assert.equal(addressAllowed('2001:db9::5', list), false);
  assert.equal(plainAddress('::ffff:127.0.0.1'), '127.0.0.1');
});

test('malformed entries and addresses match nothing (fail closed)', () => {
  assert.equal(addressAllowed('10.0.0.1', 'console-1, 10.0.0.0/99'), false);
  assert.equal(addressAllowed('', '10.0.0.0/8'), false);
  assert.equal(addressAllowed('not-an-ip', '10.0.0.0/8'), false);
});
