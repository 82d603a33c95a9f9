import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FixtureRequest } from '../../test/fixtures/rpc-worker.js';
import { WorkerRpc, type WorkerRpcOptions } from './worker-rpc.js';

const ENTRY = new URL('../../test/fixtures/rpc-worker.ts', import.meta.url);
type Rpc = WorkerRpc<FixtureRequest, unknown, string>;

function open(options: Partial<WorkerRpcOptions<unknown, string>> = {}): Rpc {
  return new WorkerRpc<FixtureRequest, unknown, string>(ENTRY, { name: 'the fixture thread', ...options });
}

test('each reply reaches the request with its id, in whatever order the thread answers', async () => {
  const rpc = open();
  try {
    const slow = rpc.request((id) => ({ op: 'echo', id, value: 'slow', delayMs: 60 }));
    const fast = rpc.request((id) => ({ op: 'echo', id, value: { fast: true } }));
    const order: string[] = [];
    await Promise.all([slow.then(() => order.push('slow')), fast.then(() => order.push('fast'))]);
    assert.deepEqual(order, ['fast', 'slow'], 'the fast reply came first');
    assert.equal(await slow, 'slow');
    assert.deepEqual(await fast, { fast: true });
    assert.equal(rpc.pending, 0);
  } finally {
    await rpc.close();
  }
});

test('progress goes to its request before the result; a thread error rejects only its request', async () => {
  const rpc = open();
  try {
    const steps: string[] = [];
    const counted = await rpc.request((id) => ({ op: 'progress', id, steps: ['a', 'b', 'c'] }), {
      onProgress: (s) => {
        steps.push(s);
      },
    });
    assert.deepEqual([steps, counted], [['a', 'b', 'c'], 3]);
    await assert.rejects(
      rpc.request((id) => ({ op: 'fail', id, message: 'no such study' })),
      /^Error: no such study$/,
    );
    assert.equal(rpc.alive, true, 'a refused request leaves the thread serving');
    assert.equal(await rpc.request((id) => ({ op: 'echo', id, value: 1 })), 1);
  } finally {
    await rpc.close();
  }
});

test('a transferred buffer moves to the thread instead of being copied', async () => {
  const rpc = open();
  try {
    const data = Uint16Array.from([1, 2, 3, 4]);
    const sum = rpc.request((id) => ({ op: 'sum', id, data }), { transfer: [data.buffer] });
    assert.equal(data.byteLength, 0, 'detached on this side');
    assert.equal(await sum, 10);
  } finally {
    await rpc.close();
  }
});

test('a crash rejects every waiting request with its error, and later requests at once', async () => {
  const rpc = open();
  try {
    const waiting = [rpc.request((id) => ({ op: 'hang', id })), rpc.request((id) => ({ op: 'hang', id }))];
    void rpc.request((id) => ({ op: 'crash', id })).catch(() => undefined);
    for (const request of waiting) await assert.rejects(request, /the fixture thread crashed/);
    assert.equal(rpc.alive, false);
    assert.equal(rpc.pending, 0);
    await assert.rejects(
      rpc.request((id) => ({ op: 'echo', id, value: 1 })),
      /the fixture thread crashed/,
    );
  } finally {
    await rpc.close();
  }
});

test('an exit rejects every waiting request and names the exit code', async () => {
  const rpc = open();
  try {
    const waiting = rpc.request((id) => ({ op: 'hang', id }));
    void rpc.request((id) => ({ op: 'exit', id, code: 3 })).catch(() => undefined);
    await assert.rejects(waiting, /^Error: the fixture thread exited \(code 3\)$/);
    assert.equal(rpc.alive, false);
  } finally {
    await rpc.close();
  }
});

test('close rejects what still waits and refuses what comes after', async () => {
  const rpc = open();
  const waiting = assert.rejects(
    rpc.request((id) => ({ op: 'hang', id })),
    /the fixture thread was closed/,
  );
  await rpc.close();
  await waiting;
  await assert.rejects(
    rpc.request((id) => ({ op: 'echo', id, value: 1 })),
    /was closed/,
  );
  assert.throws(() => rpc.post({ op: 'bye' }), /was closed/);
});

test('close with a farewell lets the thread end by itself, and terminates one that does not within the grace', async () => {
  const polite = open();
  let started = performance.now();
  await polite.close({ message: { op: 'bye' }, graceMs: 5_000 });
  assert.ok(performance.now() - started < 2_000, 'the thread ended on the farewell, not on the timer');

  const deaf = open({ workerData: { ignoreFarewell: true } });
  started = performance.now();
  await deaf.close({ message: { op: 'bye' }, graceMs: 200 });
  const took = performance.now() - started;
  assert.ok(took >= 190, `terminated after the grace, not before (${took.toFixed(0)} ms)`);
});

test('started waits for the ready message, and rejects if the thread dies first', async () => {
  const rpc = open({ workerData: { readyAfterMs: 80 }, isReady: (m) => (m as { ready?: boolean }).ready === true });
  try {
    let ready = false;
    void rpc.started.then(() => {
      ready = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(ready, false, 'not before the thread says so');
    await rpc.started;
  } finally {
    await rpc.close();
  }

  const never = open({ isReady: (m) => (m as { ready?: boolean }).ready === true });
  void never.request((id) => ({ op: 'exit', id, code: 1 })).catch(() => undefined);
  await assert.rejects(never.started, /exited \(code 1\)/);
});
