import net from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { Aedes, AuthenticateError } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';

/** Resolves a bearer token to a user id, or undefined when it is not (or no longer) valid. */
export type TokenCheck = (token: string) => Promise<number | undefined>;

export const MQTT_WS_PATH = '/mqtt';

/**
 * Who may use the embedded broker: clients connect with a valid access token as the MQTT
 * password (any username); only the server publishes (the MODULE/TASK topics are its progress
 * and status events), clients subscribe.
 */
export function guardBroker(broker: Aedes, checkToken: TokenCheck): void {
  broker.authenticate = (_client, _username, password, done) => {
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
    checkToken(password.toString('utf8')).then((id) => (id === undefined ? refuse() : done(null, true)), refuse);
  };
  broker.authorizePublish = (client, _packet, callback) => {
    callback(client ? new Error('clients may not publish on this broker') : null);
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
