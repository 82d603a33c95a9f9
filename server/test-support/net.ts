import net from 'node:net';

/** A TCP port free on 127.0.0.1 right now (for listeners a test or benchmark starts). */
export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
