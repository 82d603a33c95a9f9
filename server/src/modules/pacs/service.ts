import { AppError } from '../../util/errors.js';
import { nowIso } from '../../util/time.js';
import type { PacsNodeRow, PacsRepository } from './repository.js';
import type { PacsNodeInput } from './schemas.js';

function nodeBody(row: PacsNodeRow) {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    address: row.address,
    port: row.port,
    aet: row.aet,
    aec: row.aec,
    is_enabled: row.is_enabled === 1,
    is_default: row.is_default === 1,
    // The echo options a node carries (the spec's sample shows both), then whatever was stored.
    params: { verbose: false, debug: false, ...(JSON.parse(row.params) as Record<string, unknown>) },
    may_store: row.may_store === 1,
    may_query: row.may_query === 1,
    may_retrieve: row.may_retrieve === 1,
  };
}

/** A permission column to set when the request names it (absent: the column default, or what the node had). */
function permission(
  column: 'may_store' | 'may_query' | 'may_retrieve',
  value: boolean | undefined,
): Partial<Record<typeof column, number>> {
  return value === undefined ? {} : { [column]: value ? 1 : 0 };
}

export class PacsService {
  constructor(private readonly repo: PacsRepository) {}

  async list() {
    return { scp: (await this.repo.list()).map(nodeBody) };
  }

  private values(input: PacsNodeInput) {
    return {
      name: input.name.trim(),
      type: input.type,
      address: input.address,
      port: input.port,
      aet: input.aet.trim(),
      aec: input.aec.trim(),
      is_enabled: input.is_enabled ? 1 : 0,
      is_default: input.is_default ? 1 : 0,
      params: JSON.stringify(input.params ?? {}),
      updated_at: nowIso(),
      ...permission('may_store', input.may_store),
      ...permission('may_query', input.may_query),
      ...permission('may_retrieve', input.may_retrieve),
    };
  }

  /** Create or replace; making a node the default takes the flag from the others in the same transaction. */
  async save(input: PacsNodeInput, id?: number): Promise<number> {
    const values = this.values(input);
    return this.repo.transaction(async (trx) => {
      if (id !== undefined && !(await this.repo.byId(id, trx))) throw new AppError('PACS_NOT_FOUND', [], String(id));
      if (await this.repo.nameTaken(values.name, id, trx))
        throw new AppError('PACS_NAME_TAKEN', [{ field: 'name', message: 'already used' }], values.name);
      let saved = id;
      if (saved === undefined) saved = await this.repo.insert({ ...values, created_at: values.updated_at }, trx);
      else await this.repo.update(saved, values, trx);
      if (values.is_default) await this.repo.clearDefaultExcept(saved, trx);
      return saved;
    });
  }

  async remove(id: number): Promise<void> {
    if (!(await this.repo.delete(id))) throw new AppError('PACS_NOT_FOUND', [], String(id));
  }
}
