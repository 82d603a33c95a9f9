import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PatientFieldCrypto } from './field-crypto.js';
import { ageOn, birthBounds, genderOf, idCardFacts, idCardProblem, maskAddress, normalisePhone, sexOf } from './identity.js';

test('GB 11643: length, embedded birth date and check digit', () => {
  assert.equal(idCardProblem('11010119790315123X'), undefined);
  assert.equal(idCardProblem('110101198506201234'), undefined);
  assert.match(idCardProblem('110101197903151234') ?? '', /check digit.*expected X/);
  assert.match(idCardProblem('1101011979031512') ?? '', /18 characters/);
  assert.match(idCardProblem('11010119790231123X') ?? '', /not a valid date/);
  assert.match(idCardProblem('110101189903151234') ?? '', /not a valid date/, 'before 1900');
  assert.deepEqual(idCardFacts('11010119790315123X'), { birthDate: '1979-03-15', gender: 'male' });
});

test('masks, phone normalisation, gender mapping', () => {
  assert.equal(maskAddress('北京市朝阳区建国路88号'), '北京市朝阳区***');
  assert.equal(maskAddress('广东省深圳市南山区科技园'), '广东省深圳市南山区***');
  assert.equal(maskAddress('12 Baker Street, London'), '12 Bake***');
  assert.equal(maskAddress(null), null);
  assert.equal(normalisePhone('+86 138-1234-5678'), '13812345678');
  assert.equal(normalisePhone('(010) 6512 3456'), '01065123456');
  assert.deepEqual(['M', 'f', 'O', '', 'X'].map(genderOf), ['male', 'female', 'other', null, null]);
  assert.equal(sexOf('female'), 'F');
});

test('age and the birth date bounds of an age range', () => {
  const today = new Date('2026-03-15T10:00:00Z');
  assert.equal(ageOn('1979-03-15T00:00:00.000Z', today), 47);
  assert.equal(ageOn('1979-03-16T00:00:00.000Z', today), 46);
  assert.equal(ageOn(null, today), null);
  const { before, from } = birthBounds(18, 65, today);
  // 18 today: born 2008-03-15 counts; 65 until the day before the 66th birthday.
  assert.ok('2008-03-15T00:00:00.000Z' < (before ?? ''));
  assert.ok('2008-03-16T00:00:00.000Z' >= (before ?? ''));
  assert.ok('1960-03-16T00:00:00.000Z' >= (from ?? ''));
  assert.ok('1960-03-15T00:00:00.000Z' < (from ?? ''));
});

test('sealed values open only for their field, row and key; the blind index is keyed', () => {
  const crypto = new PatientFieldCrypto(Buffer.alloc(32, 7));
  const sealed = crypto.seal('phone', 5, '13812345678');
  assert.ok(!sealed.includes('13812345678'));
  assert.notEqual(crypto.seal('phone', 5, '13812345678'), sealed, 'a fresh IV each time');
  assert.equal(crypto.open('phone', 5, sealed), '13812345678');
  assert.throws(() => crypto.open('phone', 6, sealed));
  assert.throws(() => crypto.open('emergency_phone', 5, sealed));
  assert.throws(() => new PatientFieldCrypto(Buffer.alloc(32, 8)).open('phone', 5, sealed));
  assert.equal(crypto.blindIndex('phone', '13812345678'), crypto.blindIndex('phone', '13812345678'));
  assert.notEqual(crypto.blindIndex('phone', '13812345678'), crypto.blindIndex('id_card', '13812345678'));
  assert.notEqual(
    crypto.blindIndex('phone', '13812345678'),
    new PatientFieldCrypto(Buffer.alloc(32, 8)).blindIndex('phone', '13812345678'),
  );
});
