import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateUid, isValidUid, nextStudyId } from './uid.js';

test('default UIDs are 2.25 UUID-derived and valid', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i += 1) {
    const uid = generateUid();
    assert.ok(isValidUid(uid), uid);
    assert.match(uid, /^2\.25\.[1-9]\d*$/);
    seen.add(uid);
  }
  assert.equal(seen.size, 1000);
});

test('UIDs under an organisation root stay valid and within 64 characters', () => {
  for (const root of ['1.2.826.0.1.3680043.10.543', '1.2.3', '1.2.840.113619.2.55.3.604688119.969.1234567890.123']) {
    const uid = generateUid(root);
    assert.ok(isValidUid(uid), uid);
    assert.ok(uid.startsWith(root));
  }
  assert.equal(isValidUid('1.02.3'), false);
  assert.equal(isValidUid('1..2'), false);
  assert.equal(isValidUid('1'.repeat(65)), false);
});

test('study ids are 15 digits and strictly increasing', () => {
  let previous = nextStudyId();
  assert.match(previous, /^\d{15}$/);
  for (let i = 0; i < 500; i += 1) {
    const next = nextStudyId();
    assert.ok(next > previous, `${next} after ${previous}`);
    previous = next;
  }
  assert.equal(nextStudyId('301231235959998'), '301231235959999', 'a clash with another process moves past its id');
});
