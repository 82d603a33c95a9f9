import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './net.js';

/** DCMTK reads TCP_NODELAY from its environment: set, its small PDUs go out without Nagle's delay. */
const DCMTK_ENV = { ...process.env, TCP_NODELAY: '1' };

async function listening(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Storescp {
  port: number;
  aet: string;
  dir: string;
  /** Files received so far (full paths). */
  files(): string[];
  stop(): Promise<void>;
}

/** SIGKILL and wait for the exit; at once when the child is already gone (an 'exit' would never come). */
async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** DCMTK storescp on 127.0.0.1 writing what it receives to a temporary folder. */
export async function startStorescp(options: { port?: number; aet?: string; args?: string[] } = {}): Promise<Storescp> {
  const port = options.port ?? (await freePort());
  const aet = options.aet ?? 'STORESCP';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-storescp-'));
  const child: ChildProcess = spawn('storescp', ['-aet', aet, '--output-directory', dir, ...(options.args ?? []), String(port)], {
    env: DCMTK_ENV,
    stdio: 'ignore',
  });
  await listening(port);
  return {
    port,
    aet,
    dir,
    files: () => fs.readdirSync(dir).map((f) => path.join(dir, f)),
    async stop() {
      await killAndWait(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP server that accepts and never answers: for timeouts. */
export async function startSilentServer(): Promise<{ port: number; stop: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

export interface OrthancPeer {
  url: string;
  dicomPort: number;
  aet: string;
  stop(): Promise<void>;
}

/**
 * Debian's Orthanc from a temporary config: REST on 127.0.0.1 only (no remote access), DICOM
 * on a free port with its AE title checked, storage in a temporary folder.
 */
export async function startOrthanc(
  options: {
    dicom?: boolean;
    worklists?: (string | Buffer)[];
    worklistsForUnknownCallers?: boolean;
    /** More configuration (e.g. DefaultEncoding, the set Orthanc assumes for files that declare none). */
    config?: Record<string, unknown>;
  } = {},
): Promise<OrthancPeer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-orthanc-'));
  const [httpPort, dicomPort] = [await freePort(), await freePort()];
  const config = path.join(dir, 'orthanc.json');
  // `worklists` (dump2dcm text, one per item): served by Orthanc's Modality Worklists plugin,
  // which answers with any attribute the query asks for (wlmscpfs has a fixed key set).
  const worklists = options.worklists ? path.join(dir, 'worklists') : undefined;
  if (worklists) writeWorklistFiles(worklists, options.worklists!);
  fs.writeFileSync(
    config,
    JSON.stringify({
      Name: 'RoentgenTest',
      StorageDirectory: path.join(dir, 'storage'),
      IndexDirectory: path.join(dir, 'storage'),
      HttpPort: httpPort,
      RemoteAccessAllowed: false,
      AuthenticationEnabled: false,
      Plugins: worklists ? ['/usr/share/orthanc/plugins/libModalityWorklists.so'] : [],
      ...(worklists
        ? { Worklists: { Enable: true, Database: worklists }, DicomAlwaysAllowFindWorklist: options.worklistsForUnknownCallers ?? true }
        : {}),
      DicomServerEnabled: options.dicom ?? true,
      DicomAet: 'ORTHANC',
      DicomPort: dicomPort,
      DicomCheckCalledAet: true,
      DicomAlwaysAllowEcho: true,
      DicomAlwaysAllowStore: true,
      ...options.config,
    }),
  );
  const child = spawn('Orthanc', [config], { stdio: 'ignore', env: DCMTK_ENV });
  const url = `http://127.0.0.1:${httpPort}`;
  const stop = async () => {
    await killAndWait(child);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 150; i += 1) {
    if (
      await fetch(`${url}/system`).then(
        (r) => r.ok,
        () => false,
      )
    ) {
      if (options.dicom ?? true) await listening(dicomPort);
      return { url, dicomPort, aet: 'ORTHANC', stop };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error('Orthanc did not start (is the orthanc package installed?)');
}

export interface Wlmscp {
  port: number;
  aet: string;
  stop(): Promise<void>;
}

/**
 * DCMTK wlmscpfs serving the given worklist items (dump2dcm text, one per item) from a
 * temporary database folder (<dir>/<AE title>/*.wl with the lockfile it expects).
 */
export async function startWlmscpfs(dumps: (string | Buffer)[], aet = 'RIS'): Promise<Wlmscp> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-wlm-'));
  const db = path.join(dir, aet);
  writeWorklistFiles(db, dumps);
  fs.writeFileSync(path.join(db, 'lockfile'), '');
  const port = await freePort();
  const child = spawn('wlmscpfs', ['-dfp', dir, String(port)], { env: DCMTK_ENV, stdio: 'ignore' });
  await listening(port);
  return {
    port,
    aet,
    async stop() {
      await killAndWait(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Worklist items (dump2dcm text) as <dir>/item<n>.wl files. */
function writeWorklistFiles(dir: string, dumps: (string | Buffer)[]): void {
  fs.mkdirSync(dir, { recursive: true });
  dumps.forEach((dump, i) => {
    const source = path.join(dir, `item${i}.dump`);
    fs.writeFileSync(source, dump);
    const made = spawnSync('dump2dcm', [source, path.join(dir, `item${i}.wl`)]);
    fs.rmSync(source);
    if (made.status !== 0) throw new Error(`dump2dcm failed: ${made.stderr.toString()}`);
  });
}
