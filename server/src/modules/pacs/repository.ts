import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Db, Executor } from '../../db/index.js';
import type { PacsNodesTable } from '../../db/schema.js';

export type PacsNodeRow = Selectable<PacsNodesTable>;

export class PacsRepository {
  constructor(private readonly sql: Db) {}

  private get db() {
    return this.sql.kysely;
  }

  /** Runs `work` in one transaction; the repository's methods take the `trx` it is given. */
  transaction<T>(work: (trx: Executor) => Promise<T>): Promise<T> {
    return this.sql.kysely.transaction().execute(work);
  }

  list(): Promise<PacsNodeRow[]> {
    return this.db.selectFrom('pacs_nodes').selectAll().orderBy('id', 'desc').execute();
  }

  byId(id: number, db: Executor = this.db): Promise<PacsNodeRow | undefined> {
    return db.selectFrom('pacs_nodes').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Enabled nodes whose AE title is `aet` (a calling AE title is matched against them). */
  enabledByAet(aet: string): Promise<PacsNodeRow[]> {
    return this.db.selectFrom('pacs_nodes').selectAll().where('aet', '=', aet).where('is_enabled', '=', 1).execute();
  }

  /** Whether a node with this address, port and AE title is configured (echo without pacs:write goes only there). */
  async configured(address: string, port: number, aet: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('pacs_nodes')
      .select('id')
      .where('address', '=', address)
      .where('port', '=', port)
      .where('aet', '=', aet)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** The enabled nodes configured with a character set, as (AE title, set) pairs. */
  async charsetsByAet(): Promise<[string, string][]> {
    const rows = await this.db
      .selectFrom('pacs_nodes')
      .select(['aet', 'charset'])
      .where('charset', '!=', '')
      .where('is_enabled', '=', 1)
      .execute();
    return rows.map((r) => [r.aet, r.charset]);
  }

  /** The character set of the node at this address, port and AE title ('' when none is configured). */
  async charsetOf(address: string, port: number, aet: string): Promise<string> {
    const row = await this.db
      .selectFrom('pacs_nodes')
      .select('charset')
      .where('address', '=', address)
      .where('port', '=', port)
      .where('aet', '=', aet)
      .where('is_enabled', '=', 1)
      .executeTakeFirst();
    return row?.charset ?? '';
  }

  byName(name: string): Promise<PacsNodeRow | undefined> {
    return this.db.selectFrom('pacs_nodes').selectAll().where('name', '=', name).executeTakeFirst();
  }

  async nameTaken(name: string, exceptId: number | undefined, db: Executor): Promise<boolean> {
    let q = db.selectFrom('pacs_nodes').select('id').where('name', '=', name);
    if (exceptId !== undefined) q = q.where('id', '!=', exceptId);
    return (await q.executeTakeFirst()) !== undefined;
  }

  async insert(values: Insertable<PacsNodesTable>, db: Executor): Promise<number> {
    return (await db.insertInto('pacs_nodes').values(values).returning('id').executeTakeFirstOrThrow()).id;
  }

  async update(id: number, values: Updateable<PacsNodesTable>, db: Executor): Promise<void> {
    await db.updateTable('pacs_nodes').set(values).where('id', '=', id).execute();
  }

  /** Keeps at most one default: clears the flag on every other node. */
  async clearDefaultExcept(id: number, db: Executor): Promise<void> {
    await db.updateTable('pacs_nodes').set({ is_default: 0 }).where('id', '!=', id).where('is_default', '=', 1).execute();
  }

  async delete(id: number): Promise<boolean> {
    const result = await this.db.deleteFrom('pacs_nodes').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
