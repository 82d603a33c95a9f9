import { setNodeCharsets } from '../../dicom/charsets.js';
import { AppError } from '../../util/errors.js';
import { SECURITY_PERMISSION } from '../system/config-definitions.js';
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
    charset: row.charset,
  };
}

/** A permission column to set when the request names it (absent: the column default, or what the node had). */
function permission(
  column: 'may_store' | 'may_query' | 'may_retrieve',
  value: boolean | undefined,
): Partial<Record<typeof column, number>> {
  return value === undefined ? {} : { [column]: value ? 1 : 0 };
}

/** Who changes the nodes: `pacs:write` edits them; letting an (AE title, address) store here needs `system:security`. */
export interface PacsActor {
  permissions: ReadonlySet<string>;
}

/** What makes a node a way in for objects: may store, and who it is (AE title, address). */
type StoringFace = Pick<PacsNodeRow, 'aet' | 'address' | 'may_store'>;

/**
 * Whether saving `after` over `before` (none: a new node) lets a caller store that could not
 * before: the flag granted, or a storing node's AE title or address changed (switching an approved
 * node off and on again opens nothing new).
 * The DICOM allow-list is admin-only (`dicom.scp_*` configs); this keeps `pacs:write` from being
 * a side door around it.
 */
function opensStoring(before: StoringFace | undefined, after: StoringFace): boolean {
  if (after.may_store !== 1) return false;
  if (!before || before.may_store !== 1) return true;
  return before.aet !== after.aet || before.address !== after.address;
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
      // Left out: a new node takes the site's default, a changed one keeps its set.
      ...(input.charset === undefined ? {} : { charset: input.charset }),
    };
  }

  /**
   * Create or replace; making a node the default takes the flag from the others in the same
   * transaction. A new node may not store unless the request grants it (`may_store: true`), and
   * granting it needs `system:security` (see opensStoring).
   */
  async save(input: PacsNodeInput, actor: PacsActor, id?: number): Promise<number> {
    const values = this.values(input);
    return this.repo
      .transaction(async (trx) => {
        const before = id === undefined ? undefined : await this.repo.byId(id, trx);
        if (id !== undefined && !before) throw new AppError('PACS_NOT_FOUND', [], String(id));
        const after: StoringFace = {
          aet: values.aet,
          address: values.address,
          may_store: values.may_store ?? before?.may_store ?? 0,
        };
        if (opensStoring(before, after) && !actor.permissions.has(SECURITY_PERMISSION)) {
          throw new AppError(
            'FORBIDDEN',
            [{ field: 'may_store', message: 'letting a node store needs system:security' }],
            SECURITY_PERMISSION,
          );
        }
        if (await this.repo.nameTaken(values.name, id, trx))
          throw new AppError('PACS_NAME_TAKEN', [{ field: 'name', message: 'already used' }], values.name);
        let saved = id;
        if (saved === undefined)
          saved = await this.repo.insert({ ...values, may_store: after.may_store, created_at: values.updated_at }, trx);
        else await this.repo.update(saved, values, trx);
        if (values.is_default) await this.repo.clearDefaultExcept(saved, trx);
        return saved;
      })
      .then(async (saved) => {
        await this.refreshCharsets();
        return saved;
      });
  }

  async remove(id: number): Promise<void> {
    if (!(await this.repo.delete(id))) throw new AppError('PACS_NOT_FOUND', [], String(id));
    await this.refreshCharsets();
  }

  /** This thread's reading of undeclared text by node (the ingest thread reloads them per batch). */
  async refreshCharsets(): Promise<void> {
    setNodeCharsets(await this.repo.charsetsByAet());
  }
}
