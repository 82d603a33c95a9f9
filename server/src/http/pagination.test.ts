import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pageOf, paginated, parseFilter } from './pagination.js';

test('pagination block as the spec shows it', () => {
  const page = pageOf({ page: 2, size: 20 });
  assert.deepEqual(page, { page: 2, size: 20, limit: 20, offset: 20 });
  assert.deepEqual(paginated([], page, 100).pagination, { page: 2, size: 20, total: 100, pages: 5, has_next: true, has_prev: true });
  assert.deepEqual(paginated([], pageOf({}), 0).pagination, { page: 1, size: 20, total: 0, pages: 0, has_next: false, has_prev: false });
});

test('filter parameter: known keys kept, unknown reported', () => {
  assert.deepEqual(parseFilter('gender:male,age_min:18', ['gender', 'age_min']), {
    values: { gender: 'male', age_min: '18' },
    unknown: [],
  });
  assert.deepEqual(parseFilter('gender:male,evil:1,broken', ['gender']), { values: { gender: 'male' }, unknown: ['evil', 'broken'] });
  assert.deepEqual(parseFilter('time:10:30', ['time']).values, { time: '10:30' });
});
