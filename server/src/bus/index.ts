import { randomUUID } from 'node:crypto';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';

export interface BusProbe {
  status: 'healthy' | 'unhealthy';
  broker: 'embedded' | 'external';
  response_time?: number;
  error?: string;
}

/**
 * Who an event is about: the session whose task produced it. The embedded broker forwards an
 * event with an audience to that session's clients and to clients that may see every study;
 * an event without one goes to the latter only (transports.ts, `guardBroker`).
 */
export interface Audience {
  sessionId: string;
}

const audiences = new WeakMap<Buffer, Audience>();

/**
 * The audience of a payload the embedded broker is delivering. Aedes hands every subscriber the
 * very Buffer that was published, so the tag travels with it without entering the MQTT packet.
 */
export function audienceOf(payload: unknown): Audience | undefined {
  return Buffer.isBuffer(payload) ? audiences.get(payload) : undefined;
}

/** Publish/subscribe for progress events (MQTT topics `MODULE/TASK/...`). */
export interface Bus {
  readonly kind: 'embedded' | 'external';
  /** The embedded broker, for transports (WebSocket/TCP) to attach clients to. */
  readonly broker: Aedes | undefined;
  publish(topic: string, payload: unknown, audience?: Audience): Promise<void>;
  /** Round trip of one message through the broker. */
  probe(timeoutMs?: number): Promise<BusProbe>;
  close(): Promise<void>;
}

function encode(payload: unknown): Buffer {
  return Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
}

async function embeddedBus(): Promise<Bus> {
  const broker = await Aedes.createBroker();
  const publish = (topic: string, payload: unknown, audience?: Audience) =>
    new Promise<void>((resolve, reject) => {
      const bytes = encode(payload);
      if (audience) audiences.set(bytes, audience);
      broker.publish({ cmd: 'publish', topic, payload: bytes, qos: 0, retain: false, dup: false }, (error) =>
        error ? reject(error) : resolve(),
      );
    });
  return {
    kind: 'embedded',
    broker,
    publish,
    async probe(timeoutMs = 2000) {
      const topic = `roentgen/health/${randomUUID()}`;
      const started = performance.now();
      let deliver: ((packet: unknown, done: () => void) => void) | undefined;
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no round trip within timeout')), timeoutMs);
          deliver = (_packet, done) => {
            clearTimeout(timer);
            done();
            resolve();
          };
          broker.subscribe(topic, deliver, () => {
            publish(topic, 'ping').catch(reject);
          });
        });
        return { status: 'healthy', broker: 'embedded', response_time: Math.round(performance.now() - started) };
      } catch (error) {
        return { status: 'unhealthy', broker: 'embedded', error: (error as Error).message };
      } finally {
        if (deliver) broker.unsubscribe(topic, deliver, () => undefined);
      }
    },
    close: () => new Promise<void>((resolve) => broker.close(() => resolve())),
  };
}

function externalBus(url: string): Bus {
  const client: MqttClient = mqtt.connect(url, { clientId: `roentgen-${randomUUID()}`, reconnectPeriod: 2000, connectTimeout: 5000 });
  // The server starts even if the broker is down; health reports it and the client reconnects.
  client.on('error', () => undefined);
  return {
    kind: 'external',
    broker: undefined,
    // An external broker's own ACLs decide who receives what; the audience is for the embedded one.
    async publish(topic, payload) {
      await client.publishAsync(topic, encode(payload), { qos: 1 });
    },
    async probe(timeoutMs = 2000) {
      if (!client.connected) return { status: 'unhealthy', broker: 'external', error: 'not connected to the broker' };
      const topic = `roentgen/health/${randomUUID()}`;
      const started = performance.now();
      let onMessage: ((t: string) => void) | undefined;
      try {
        await client.subscribeAsync(topic, { qos: 0 });
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no round trip within timeout')), timeoutMs);
          onMessage = (t) => {
            if (t === topic) {
              clearTimeout(timer);
              resolve();
            }
          };
          client.on('message', onMessage);
          client.publishAsync(topic, 'ping').catch(reject);
        });
        return { status: 'healthy', broker: 'external', response_time: Math.round(performance.now() - started) };
      } catch (error) {
        return { status: 'unhealthy', broker: 'external', error: (error as Error).message };
      } finally {
        if (onMessage) client.off('message', onMessage);
        client.unsubscribeAsync(topic).catch(() => undefined);
      }
    },
    close: () => client.endAsync(true),
  };
}

export function openBus(mqttUrl: string | undefined): Promise<Bus> {
  return mqttUrl ? Promise.resolve(externalBus(mqttUrl)) : embeddedBus();
}
