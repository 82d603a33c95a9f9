import assert from 'node:assert/strict';
import { test } from 'node:test';
import { periodStart, toStoredInstant } from './time.js';

test('filter instants with offsets are normalised to UTC', () => {
  assert.equal(toStoredInstant('2025-06-19T00:00:00.000+08:00'), '2025-06-18T16:00:00.000Z');
  assert.equal(toStoredInstant('2025-06-19T00:00:00Z'), '2025-06-19T00:00:00.000Z');
  assert.equal(toStoredInstant('2025-06-19'), '2025-06-19T00:00:00.000Z');
});

test('garbage and impossible dates are refused', () => {
  assert.equal(toStoredInstant('yesterday'), undefined);
  assert.equal(toStoredInstant('2025-13-45T00:00:00Z'), undefined);
  assert.equal(toStoredInstant('2025-06-19T00:00:00'), undefined, 'a time without zone is ambiguous');
});

test('period starts', () => {
  const now = new Date('2025-09-24T10:30:00Z'); // a Wednesday
  assert.equal(periodStart('today', now), '2025-09-24T00:00:00.000Z');
  assert.equal(periodStart('week', now), '2025-09-22T00:00:00.000Z');
  assert.equal(periodStart('month', now), '2025-09-01T00:00:00.000Z');
  assert.equal(periodStart('year', now), '2025-01-01T00:00:00.000Z');
});
