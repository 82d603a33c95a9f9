import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../../util/errors.js';

/** Kernel pseudo-filesystems: writing there is never an export (a save-as into /proc/self spun the CPU). */
const FORBIDDEN = ['/proc', '/sys', '/dev'];
const DIR_MODE = 0o750;
const FILE_MODE = 0o640;
/** Exports run at most this many at a time; each copies one stored object. */
const MAX_CONCURRENT = 2;

const inside = (parent: string, child: string) => {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
};

function refused(message: string): AppError {
  // The message names the rule, never a resolved server path.
  return new AppError('EXPORT_DIRECTORY_REFUSED', [{ field: 'config_value', message }]);
}

/**
 * Where "save as" may write: the configured export directory must resolve (symlinks followed,
 * with realpath) inside one of the export roots the operator set on the host (ROENTGEN_EXPORT_ROOTS,
 * default `<data dir>/exports`), never in /proc, /sys or /dev. Roots are not an API setting, so
 * an account with every permission still cannot point exports at the rest of the disk.
 */
export class ExportFolder {
  private running = 0;

  /** Used when `export.directory` is empty: the first root. */
  private readonly defaultDirectory: string;

  constructor(
    private readonly roots: readonly string[],
    /** Roots inside the data directory are ours to create; others (a mounted stick, a share) must exist. */
    private readonly dataDir: string,
  ) {
    if (roots.length === 0) throw new Error('at least one export root is needed');
    this.defaultDirectory = roots[0];
  }

  /** Refuses a value for `export.directory` that would resolve outside the roots (the config service calls this). */
  async check(configured: string): Promise<void> {
    await this.resolve(configured, false);
  }

  /**
   * Copies `bytes` to `<export dir>/<folder>/<name>`: directories 0750, the file 0640, written to a
   * temporary name and renamed, every directory re-checked after it exists (no symlink escape).
   * `folder` and `name` must already be single safe path components.
   */
  async write(configured: string, folder: string, name: string, bytes: Uint8Array): Promise<void> {
    if (this.running >= MAX_CONCURRENT) throw new AppError('SERVICE_UNAVAILABLE', [], 'other exports are running; retry shortly');
    this.running += 1;
    let temp: string | undefined;
    try {
      const { directory, root } = await this.resolve(configured, true);
      const target = path.join(directory, folder);
      await fs.mkdir(target, { mode: DIR_MODE }).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      });
      const realTarget = await fs.realpath(target);
      if (!inside(root, realTarget) || !(await fs.lstat(realTarget)).isDirectory())
        throw refused('the study folder leaves the export root');
      temp = path.join(realTarget, `.${randomUUID()}.part`);
      await fs.writeFile(temp, bytes, { flag: 'wx', mode: FILE_MODE });
      await fs.rename(temp, path.join(realTarget, name));
      temp = undefined;
    } catch (error) {
      if (error instanceof AppError) throw error;
      // The reply names the failure's kind only; the server path stays in the server.
      throw new AppError('EXPORT_FAILED', [], (error as NodeJS.ErrnoException).code ?? 'write failed');
    } finally {
      if (temp) await fs.rm(temp, { force: true }).catch(() => undefined);
      this.running -= 1;
    }
  }

  /** The real path of the export directory and the real root it lies in, or a refusal. */
  private async resolve(configured: string, create: boolean): Promise<{ directory: string; root: string }> {
    const value = configured.trim() || this.defaultDirectory;
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    if (/[\u0000-\u001F\u007F]/.test(value)) throw refused('must not contain control characters');
    if (!path.isAbsolute(value)) throw refused('must be an absolute path');
    const wanted = path.resolve(value);
    if (FORBIDDEN.some((dir) => inside(dir, wanted))) throw refused('must not be a system pseudo-filesystem');
    const roots = await this.realRoots();
    const real = await realPathOfNearest(wanted);
    if (FORBIDDEN.some((dir) => inside(dir, real))) throw refused('must not be a system pseudo-filesystem');
    const root = roots.find((r) => inside(r, real));
    if (!root) throw refused('must lie inside the export roots the server allows');
    if (!create) return { directory: real, root };
    await fs.mkdir(real, { recursive: true, mode: DIR_MODE });
    const created = await fs.realpath(real);
    if (!inside(root, created)) throw refused('must lie inside the export roots the server allows');
    return { directory: created, root };
  }

  /** Roots that exist, by their real path (roots inside the data directory are created). */
  private async realRoots(): Promise<string[]> {
    const real: string[] = [];
    for (const root of this.roots) {
      if (inside(this.dataDir, root)) await fs.mkdir(root, { recursive: true, mode: DIR_MODE }).catch(() => undefined);
      const resolved = await fs.realpath(root).catch(() => undefined);
      if (resolved && !FORBIDDEN.some((dir) => inside(dir, resolved))) real.push(resolved);
    }
    return real;
  }
}

/** realpath of the deepest existing ancestor, with the missing components appended (they cannot be links yet). */
async function realPathOfNearest(absolute: string): Promise<string> {
  const missing: string[] = [];
  let current = absolute;
  for (;;) {
    try {
      return path.join(await fs.realpath(current), ...missing.reverse());
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as NodeJS.ErrnoException).code !== 'ENOTDIR')
        throw refused('cannot be resolved');
      const parent = path.dirname(current);
      if (parent === current) throw refused('cannot be resolved');
      missing.push(path.basename(current));
      current = parent;
    }
  }
}
