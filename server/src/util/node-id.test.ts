import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { nodeId } from './node-id.js';

test('the node id is made once per data directory and kept; a damaged file gets a new one', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-id-'));
  try {
    const first = nodeId(dir);
    assert.match(first, /^[0-9a-f-]{36}$/);
    assert.equal(nodeId(dir), first);
    fs.writeFileSync(path.join(dir, 'node-id'), 'garbage');
    const second = nodeId(dir);
    assert.notEqual(second, first);
    assert.equal(fs.readFileSync(path.join(dir, 'node-id'), 'utf8').trim(), second);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
