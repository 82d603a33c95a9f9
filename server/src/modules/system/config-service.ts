import type { Config } from '../../config.js';
import { AppError } from '../../util/errors.js';
import { nowIso } from '../../util/time.js';
import {
  checkConfigValue,
  configDefinitions,
  isSecretConfig,
  isSensitiveConfig,
  SECURITY_PERMISSION,
  type ConfigDefinition,
} from './config-definitions.js';
import type { ConfigFilter, ConfigRepository, ConfigRow } from './config-repository.js';

export type { ConfigRow } from './config-repository.js';

/** Who reads or changes configuration: sensitive keys need `system:security`. */
export interface ConfigActor {
  id: number | null;
  permissions: ReadonlySet<string>;
}

/** A check a key's value must pass beyond its type (e.g. the export directory inside the export roots). */
export type ConfigValidator = (value: string) => Promise<void>;

/** Told after a key's new value is stored (e.g. guest sessions end when the guest switches change). */
export type ConfigChangeListener = (key: string, value: string, previous: string) => Promise<void>;

/** How long a process trusts its cached copy; other processes' updates show up within this. */
const CACHE_MS = 2000;

export class ConfigService {
  private readonly definitions: Map<string, ConfigDefinition>;
  private cache: { at: number; values: Map<string, string> } | undefined;
  private loading: Promise<Map<string, string>> | undefined;
  private generation = 0;
  private readonly validators = new Map<string, ConfigValidator>();
  private readonly changeListeners = new Map<string, ConfigChangeListener[]>();

  constructor(
    private readonly repo: ConfigRepository,
    config: Config,
  ) {
    this.definitions = new Map(configDefinitions(config).map((d) => [d.key, d]));
  }

  /** Inserts keys that are missing; never overwrites what an administrator set. */
  async seed(): Promise<void> {
    const now = nowIso();
    const rows = [...this.definitions.values()].map((d) => ({
      config_key: d.key,
      config_value: d.defaultValue,
      config_type: d.type,
      category: d.category,
      description: d.description,
      is_public: d.isPublic ? (1 as const) : (0 as const),
      updated_at: now,
      updated_by: null,
    }));
    await this.repo.insertMissing(rows);
  }

  /** Registers a check `key`'s values must pass before they are stored. */
  setValidator(key: string, validator: ConfigValidator): void {
    this.validators.set(key, validator);
  }

  /** Registers `listener` for changes of `key`; it runs before update() answers, so the change is in force when it does. */
  onChange(key: string, listener: ConfigChangeListener): void {
    this.changeListeners.set(key, [...(this.changeListeners.get(key) ?? []), listener]);
  }

  /** The rows; secret values (server paths, secrets) are blanked for readers without `system:security`. */
  async list(filter: ConfigFilter, reader?: ConfigActor): Promise<ConfigRow[]> {
    const rows = await this.repo.list(filter);
    if (reader?.permissions.has(SECURITY_PERMISSION)) return rows;
    return rows.map((row) => (isSecretConfig(row.config_key, this.definitions.get(row.config_key)) ? { ...row, config_value: '' } : row));
  }

  /** Type-checks and stores a new value; `raw` is what the client sent as `config_value`. */
  async update(key: string, raw: unknown, actor: ConfigActor): Promise<ConfigRow> {
    const definition = this.definitions.get(key);
    // Before the lookup: whether a sensitive key exists is no secret, but its checks are not for this caller.
    if (isSensitiveConfig(key, definition) && !actor.permissions.has(SECURITY_PERMISSION)) {
      throw new AppError('FORBIDDEN', [], SECURITY_PERMISSION);
    }
    const row = await this.repo.byKey(key);
    if (!row) throw new AppError('CONFIG_NOT_FOUND', [], key);
    const value = normalise(row.config_type, raw);
    const problem = value === undefined ? `must be a ${row.config_type}` : checkConfigValue(row.config_type, value, definition);
    if (value === undefined || problem) {
      throw new AppError('CONFIG_TYPE_MISMATCH', [{ field: 'config_value', message: problem ?? 'invalid' }], key);
    }
    await this.validators.get(key)?.(value);
    const updatedAt = nowIso();
    await this.repo.setValue(key, value, updatedAt, actor.id);
    this.generation += 1;
    this.cache = undefined;
    this.loading = undefined;
    for (const listener of this.changeListeners.get(key) ?? []) await listener(key, value, row.config_value);
    return { ...row, config_value: value, updated_at: updatedAt, updated_by: actor.id };
  }

  private async values(): Promise<Map<string, string>> {
    if (this.cache && Date.now() - this.cache.at < CACHE_MS) return this.cache.values;
    // Every request reads a key (the rate limit): when the copy expires under load, one query refreshes it for all.
    if (this.loading) return this.loading;
    const generation = this.generation;
    const loading = this.repo.allValues().then(
      (values) => {
        if (this.loading === loading) this.loading = undefined;
        // A value changed here while this read ran: the next caller reads again.
        if (generation === this.generation) this.cache = { at: Date.now(), values };
        return values;
      },
      (error: unknown) => {
        if (this.loading === loading) this.loading = undefined;
        throw error;
      },
    );
    this.loading = loading;
    return loading;
  }

  async getString(key: string): Promise<string> {
    const value = (await this.values()).get(key) ?? this.definitions.get(key)?.defaultValue;
    if (value === undefined) throw new Error(`configuration key ${key} is not defined`);
    return value;
  }

  async getNumber(key: string): Promise<number> {
    return Number(await this.getString(key));
  }

  async getBoolean(key: string): Promise<boolean> {
    return (await this.getString(key)) === 'true';
  }
}

function normalise(type: ConfigRow['config_type'], raw: unknown): string | undefined {
  switch (type) {
    case 'number':
      if (typeof raw === 'number') return String(raw);
      return typeof raw === 'string' ? raw.trim() : undefined;
    case 'boolean':
      if (typeof raw === 'boolean') return String(raw);
      return typeof raw === 'string' ? raw.trim().toLowerCase() : undefined;
    case 'json':
      return typeof raw === 'string' ? raw : JSON.stringify(raw);
    case 'string':
      return typeof raw === 'string' ? raw : undefined;
  }
}
