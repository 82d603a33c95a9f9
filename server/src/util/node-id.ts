import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * This installation's identity, kept in the data directory (`node-id`) and made on first start.
 * Work a process leases in the shared database (send tasks) carries it, so the next start of
 * the same installation knows which interrupted work was its own. A missing or unreadable file
 * gets a new id: only work leased under the old one then waits for its lease to run out.
 */
export function nodeId(dataDir: string): string {
  const file = path.join(dataDir, 'node-id');
  const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : '';
  if (UUID.test(existing)) return existing;
  const id = randomUUID();
  fs.mkdirSync(dataDir, { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, `${id}\n`, { flush: true });
  fs.renameSync(temp, file);
  return id;
}
