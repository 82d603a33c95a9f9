import type { Insertable, Selectable } from 'kysely';
import type { Db } from '../../db/index.js';
import type { SystemConfigsTable } from '../../db/schema.js';
import { likePattern } from '../../db/sql.js';

export type ConfigRow = Selectable<SystemConfigsTable>;

export interface ConfigFilter {
  category?: string;
  isPublic?: boolean;
  search?: string;
}

/** The `system_configs` table: one row per configuration key. */
export class ConfigRepository {
  constructor(private readonly db: Db) {}

  /** Inserts the rows whose keys are missing; existing values are never overwritten. */
  async insertMissing(rows: Insertable<SystemConfigsTable>[]): Promise<void> {
    await this.db.kysely
      .insertInto('system_configs')
      .values(rows)
      .onConflict((oc) => oc.column('config_key').doNothing())
      .execute();
  }

  list(filter: ConfigFilter): Promise<ConfigRow[]> {
    let query = this.db.kysely.selectFrom('system_configs').selectAll();
    if (filter.category) query = query.where('category', '=', filter.category);
    if (filter.isPublic !== undefined) query = query.where('is_public', '=', filter.isPublic ? 1 : 0);
    if (filter.search) {
      const pattern = likePattern(filter.search);
      query = query.where((eb) => eb.or([this.db.ilike(eb.ref('config_key'), pattern), this.db.ilike(eb.ref('description'), pattern)]));
    }
    return query.orderBy('category').orderBy('config_key').execute();
  }

  byKey(key: string): Promise<ConfigRow | undefined> {
    return this.db.kysely.selectFrom('system_configs').selectAll().where('config_key', '=', key).executeTakeFirst();
  }

  async setValue(key: string, value: string, updatedAt: string, userId: number | null): Promise<void> {
    await this.db.kysely
      .updateTable('system_configs')
      .set({ config_value: value, updated_at: updatedAt, updated_by: userId })
      .where('config_key', '=', key)
      .execute();
  }

  async allValues(): Promise<Map<string, string>> {
    const rows = await this.db.kysely.selectFrom('system_configs').select(['config_key', 'config_value']).execute();
    return new Map(rows.map((r) => [r.config_key, r.config_value]));
  }
}
