import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ComponentInfo {
  build: string;
  desc: string;
  submodule: string[];
  version: string;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

function git(args: string[]): string | undefined {
  try {
    return (
      execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

function dependencyVersion(name: string): string {
  try {
    // Read from disk: several packages' `exports` maps hide their package.json from require.
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
    return `${name}@${pkg.version}`;
  } catch {
    return `${name}@?`;
  }
}

function formatTime(date: Date): string {
  return date.toISOString().replace('T', ' ').slice(0, 19);
}

/** Versions and build facts of this server, read once at start (git checkout or installed tree). */
export function readBuildInfo(): { version: string; server: Record<string, ComponentInfo> } {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const describe = git(['describe', '--tags', '--always', '--dirty']);
  const commitTime = git(['log', '-1', '--format=%cI']);
  const build = commitTime ? formatTime(new Date(commitTime)) : formatTime(fs.statSync(path.join(root, 'package.json')).mtime);
  const version = describe && !/^[0-9a-f]{7,}/.test(describe) ? describe : `${pkg.version}${describe ? `-g${describe}` : ''}`;
  return {
    version,
    server: {
      api: {
        build,
        desc: 'Roentgen API server (both faces)',
        submodule: [`node@${process.versions.node}`, dependencyVersion('fastify'), dependencyVersion('kysely')],
        version,
      },
      auth: {
        build,
        desc: 'Authentication and RBAC',
        submodule: [dependencyVersion('jose'), dependencyVersion('@node-rs/argon2')],
        version,
      },
      bus: { build, desc: 'MQTT bus', submodule: [dependencyVersion('aedes'), dependencyVersion('mqtt')], version },
      // The spec's components, each answered by the module of ours that does its job.
      dcmtk: {
        build,
        desc: 'DICOM networking (own DIMSE layer) and objects',
        submodule: [dependencyVersion('dicom-parser'), dependencyVersion('dcmjs')],
        version,
      },
      imgProc: {
        build,
        desc: 'Image processing pipeline (EI/DI, enhancement, collimation)',
        submodule: [dependencyVersion('sharp')],
        version,
      },
      protocol: { build, desc: 'Protocol library (patient type, body part, procedure, view, APR)', submodule: [], version },
      resource: { build, desc: 'Console resources (translations, options, quota)', submodule: [], version },
      study: { build, desc: 'Studies, worklist and archive', submodule: [dependencyVersion('kysely')], version },
      task: { build, desc: 'Exposure workflow and send queue', submodule: [], version },
    },
  };
}
