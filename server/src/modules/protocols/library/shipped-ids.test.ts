import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { buildLibrary } from './build.js';

/**
 * An id once shipped keeps its meaning (sites and RIS mappings store procedure and view ids):
 * every id in `shipped-ids.json` must still be built with the same Chinese name. New entries are
 * free; renaming or renumbering one is a deliberate act — a migration that re-keys installed
 * databases (as 012 did), then `ROENTGEN_UPDATE_SHIPPED_IDS=1` on this test to record the change.
 */
const SNAPSHOT = new URL('./shipped-ids.json', import.meta.url);

type Ids = Record<string, { procedures: Record<string, string>; views: Record<string, string> }>;

function current(): Ids {
  const ids: Ids = {};
  for (const product of ['DROS', 'VETDROS'] as const) {
    const lib = buildLibrary(product);
    ids[product] = {
      procedures: Object.fromEntries(lib.procedures.map((p) => [p.procedure_id, p.name_zh])),
      views: Object.fromEntries(lib.views.map((v) => [v.view_id, v.name_zh])),
    };
  }
  return ids;
}

test('every shipped procedure and view id keeps its meaning', () => {
  const now = current();
  if (process.env.ROENTGEN_UPDATE_SHIPPED_IDS === '1') writeFileSync(SNAPSHOT, `${JSON.stringify(now, null, 2)}\n`);
  const shipped = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as Ids;
  for (const [product, kinds] of Object.entries(shipped)) {
    const built = now[product] as Ids[string] | undefined;
    for (const kind of ['procedures', 'views'] as const)
      for (const [id, name] of Object.entries(kinds[kind])) assert.equal(built?.[kind][id], name, `${product} ${id}`);
  }
});
