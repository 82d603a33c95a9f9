import { createServer } from './app.js';
import { loadConfig } from './config.js';
import { DataDirLockedError } from './storage/data-dir.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const server = await createServer(config);
  for (const account of server.seeded.filter((a) => a.generated)) {
    // Printed once on first start and stored nowhere in clear; reset it via the API if lost.
    process.stdout.write(`\n  Initial password for "${account.username}": ${account.password}\n`);
  }
  if (server.seeded.some((a) => a.generated)) process.stdout.write('  (shown once; change it after logging in)\n\n');
  // Handlers go in before listening: a supervisor may signal as soon as the port is announced.
  const stop = async (signal: string) => {
    server.app.log.info({ signal }, 'shutting down');
    await server.close().catch((error: unknown) => server.app.log.error({ err: error }, 'shutdown failed'));
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  await server.app.listen({ host: config.host, port: config.port });
  server.app.log.info(
    { aet: config.dicomAet, port: server.dicomPort },
    `DICOM service (C-ECHO, C-STORE SCP) listening on ${config.host}:${server.dicomPort} as ${config.dicomAet}`,
  );
}

main().catch((error: unknown) => {
  if (error instanceof DataDirLockedError) {
    process.stderr.write(`Roentgen failed to start: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`Roentgen failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
