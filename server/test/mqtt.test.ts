import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import mqtt from 'mqtt';
import { ADMIN_PASSWORD, call, freePort, withServer } from './helpers.js';

const tcpPort = await freePort();

/** Connects and resolves with the client, or rejects with the broker's refusal. */
function connect(url: string, password?: string): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      username: 'console',
      ...(password !== undefined ? { password } : {}),
      reconnectPeriod: 0,
      connectTimeout: 3000,
    });
    client.once('connect', () => resolve(client));
    client.once('error', (error) => {
      client.end(true);
      reject(error);
    });
  });
}

function nextMessage(client: mqtt.MqttClient, topic: string, timeoutMs = 2000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message on ${topic}`)), timeoutMs);
    client.on('message', (t, payload) => {
      if (t !== topic) return;
      clearTimeout(timer);
      resolve(JSON.parse(payload.toString()));
    });
  });
}

// The broker is in-process; the database does not take part, so SQLite alone is enough here.
describe('embedded MQTT broker: WebSocket at /mqtt and TCP, token-checked', () => {
  const ctx = withServer('sqlite', { MQTT_TCP_PORT: String(tcpPort) });
  const wsUrl = () => `${ctx.t.url.replace(/^http/, 'ws')}/mqtt`;

  test("a client with a valid token receives the server's events over WebSocket and TCP", async () => {
    const ws = await connect(wsUrl(), ctx.admin);
    const tcp = await connect(`mqtt://127.0.0.1:${tcpPort}`, ctx.admin);
    try {
      await ws.subscribeAsync('MODULE/TASK/STATUS/GLOBAL');
      await tcp.subscribeAsync('MODULE/TASK/#');
      const viaWs = nextMessage(ws, 'MODULE/TASK/STATUS/GLOBAL');
      const viaTcp = nextMessage(tcp, 'MODULE/TASK/STATUS/GLOBAL');
      const event = { GENStatus: 'GENERATOR_STATUS_STANDBY', GENReady: true, AllReady: true };
      await ctx.t.server.bus.publish('MODULE/TASK/STATUS/GLOBAL', event);
      assert.deepEqual(await viaWs, event);
      assert.deepEqual(await viaTcp, event);
    } finally {
      ws.end(true);
      tcp.end(true);
    }
  });

  test('no token, a garbage token or a revoked token is refused at connect', async () => {
    await assert.rejects(connect(wsUrl()), /Bad username or password|Not authorized/i);
    await assert.rejects(connect(wsUrl(), 'not-a-token'), /Bad username or password|Not authorized/i);
    const login = await call(ctx.t.url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
    const token = login.body.data.access_token as string;
    assert.equal((await call(ctx.t.url, 'POST', '/api/v1/auth/logout', { token, body: {} })).status, 200);
    await assert.rejects(connect(`mqtt://127.0.0.1:${tcpPort}`, token), /Bad username or password|Not authorized/i);
  });

  test('clients cannot publish events to other clients', async () => {
    const listener = await connect(wsUrl(), ctx.admin);
    const talker = await connect(wsUrl(), ctx.admin);
    try {
      await listener.subscribeAsync('MODULE/TASK/IMGPROC/PROGRESS');
      const heard = nextMessage(listener, 'MODULE/TASK/IMGPROC/PROGRESS', 500);
      talker.publish('MODULE/TASK/IMGPROC/PROGRESS', JSON.stringify({ status: 'TASK_Success', sop: 'forged' }));
      await assert.rejects(heard, /no message/);
    } finally {
      listener.end(true);
      talker.end(true);
    }
  });

  test('other WebSocket paths are not upgraded', async () => {
    await assert.rejects(connect(`${ctx.t.url.replace(/^http/, 'ws')}/not-mqtt`, ctx.admin));
  });
});
