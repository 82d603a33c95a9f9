import net from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { Aedes, AuthenticateError, Client } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { audienceOf } from './index.js';

/** Who a broker client is, as its token (the MQTT password) says right now. */
export interface BrokerIdentity {
  userId: number;
  sessionId: string;
  /** The token's expiry (seconds since the epoch); the connection is closed then. */
  expiresAt: number;
  /** May receive every event (reads every study); otherwise only events of its own session's tasks. */
  seesAll: boolean;
  isGuest: boolean;
}

/** Resolves a bearer token to its identity, or undefined when it is not (or no longer) valid. */
export type TokenCheck = (token: string) => Promise<BrokerIdentity | undefined>;

export const MQTT_WS_PATH = '/mqtt';

export interface BrokerGuardOptions {
  /** Topics a guest may subscribe to, exactly (no wildcards). */
  guestTopics: readonly string[];
  /** The first topic level every client subscription must name literally (no `#`, no `+/…`). */
  clientRoot: string;
  /** How often every connection's token and session are checked again. */
  recheckMs: number;
}

export interface BrokerGuard {
  /** Closes at once the connections of sessions that just ended (logout, replayed refresh token). */
  endSessions(sessionIds: readonly string[]): void;
  /** Checks every connection's token again and closes those no longer valid (also run on a timer). */
  recheck(): Promise<void>;
  stop(): void;
}

interface Connected {
  token: string;
  identity: BrokerIdentity;
}

/** Whether a client may subscribe to a topic filter; see `guardBroker`. */
export function subscriptionAllowed(filter: string, identity: BrokerIdentity, options: BrokerGuardOptions): boolean {
  if (identity.isGuest) return options.guestTopics.includes(filter);
  const [first] = filter.split('/');
  return first === options.clientRoot;
}

/**
 * Who may use the embedded broker: clients connect with a valid access token as the MQTT
 * password (any username); only the server publishes (the MODULE/TASK topics are its progress
 * and status events), clients subscribe.
 *
 * Subscriptions are refused (SUBACK 0x80) unless their first level is the event root literally
 * (`#`, `+/…` and `$SYS` are never granted); a guest may subscribe only to the listed topics,
 * exactly. Each event is forwarded to clients that read every study, and to the clients of the
 * session whose task produced it; a guest therefore hears only its own session's tasks.
 *
 * Every connection is closed when its token expires, when its session ends (logout: at once;
 * otherwise by the periodic check) or when its account is deleted or disabled (periodic check).
 */
export function guardBroker(broker: Aedes, checkToken: TokenCheck, options: BrokerGuardOptions): BrokerGuard {
  const connected = new Map<Client, Connected>();
  broker.authenticate = (client, _username, password, done) => {
    const refuse = () => {
      const error = new Error('a valid access token is required as the MQTT password') as AuthenticateError;
      // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- AuthErrorCode.BAD_USERNAME_OR_PASSWORD; an ambient const enum cannot be used as a value under isolatedModules
      error.returnCode = 4;
      done(error, false);
    };
    if (!password || password.length === 0) {
      refuse();
      return;
    }
    const token = password.toString('utf8');
    checkToken(token).then((identity) => {
      if (identity === undefined) {
        refuse();
        return;
      }
      connected.set(client, { token, identity });
      done(null, true);
    }, refuse);
  };
  broker.on('clientDisconnect', (client) => connected.delete(client));
  broker.authorizePublish = (client, _packet, callback) => {
    callback(client ? new Error('clients may not publish on this broker') : null);
  };
  broker.authorizeSubscribe = (client, subscription, callback) => {
    const entry = connected.get(client);
    const allowed = entry !== undefined && subscriptionAllowed(subscription.topic, entry.identity, options);
    callback(null, allowed ? subscription : null);
  };
  broker.authorizeForward = (client, packet) => {
    const entry = connected.get(client);
    if (!entry) return null;
    if (entry.identity.seesAll) return packet;
    return audienceOf(packet.payload)?.sessionId === entry.identity.sessionId ? packet : null;
  };

  const close = (client: Client) => {
    connected.delete(client);
    client.close();
  };
  const recheck = async () => {
    const now = Date.now() / 1000;
    for (const [client, entry] of [...connected]) {
      if (client.closed) {
        connected.delete(client);
        continue;
      }
      const still = entry.identity.expiresAt > now ? await checkToken(entry.token).catch(() => undefined) : undefined;
      if (still === undefined) close(client);
      else entry.identity = still;
    }
  };
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= recheck().finally(() => {
      running = undefined;
    });
  }, options.recheckMs);
  timer.unref();
  return {
    endSessions(sessionIds) {
      for (const [client, entry] of [...connected]) if (sessionIds.includes(entry.identity.sessionId)) close(client);
    },
    recheck,
    stop: () => clearInterval(timer),
  };
}

/**
 * MQTT over WebSocket on the HTTP server's port at /mqtt (browsers), and on a TCP port when one
 * is configured. Returns a function that closes what it opened.
 */
export async function attachBrokerTransports(
  broker: Aedes,
  http: HttpServer,
  tcp?: { host: string; port: number },
): Promise<() => Promise<void>> {
  const wss = new WebSocketServer({ noServer: true });
  http.on('upgrade', (request, socket, head) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== MQTT_WS_PATH) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      const stream = createWebSocketStream(ws);
      stream.on('error', () => ws.terminate());
      broker.handle(stream, request);
    });
  });
  let tcpServer: net.Server | undefined;
  if (tcp) {
    const server = net.createServer((socket) => {
      socket.setNoDelay(true);
      broker.handle(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tcp.port, tcp.host, () => resolve());
    });
    tcpServer = server;
  }
  return async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    if (tcpServer) await new Promise<void>((resolve) => tcpServer.close(() => resolve()));
  };
}
