import { createHash } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { ProtocolProceduresTable, ProtocolViewsTable } from '../../db/schema.js';
import type { Db, Executor } from '../../db/index.js';
import { nowIso } from '../../util/time.js';
import { buildLibrary, type LibraryRows, type Product } from './library/build.js';

export type ViewRow = Selectable<ProtocolViewsTable>;
export type ProcedureRow = Selectable<ProtocolProceduresTable>;

export interface ListFilter {
  product: string;
  patientType?: string;
  bodyPart?: string;
  isEnabled?: boolean;
}

const CHUNK = 200;

export class ProtocolRepository {
  constructor(private readonly sql: Db) {}

  private get db() {
    return this.sql.kysely;
  }

  /**
   * Installs the shipped library. Rows are inserted only where missing, so a site's edited
   * exposures (and its device rows) survive upgrades; what a site cannot edit through the API —
   * names, body part, pictogram, view document, procedure membership of pre-installed rows — is
   * brought to the shipped library's, and so are shipped programmes the site never edited (a
   * recalibrated chart must reach existing installations). A digest of the shipped data skips the
   * work when unchanged.
   */
  async seed(product: Product): Promise<void> {
    const rows = buildLibrary(product);
    const digest = createHash('sha256').update(JSON.stringify(rows)).digest('hex');
    const installed = await this.db
      .selectFrom('protocol_library_installs')
      .select('digest')
      .where('product', '=', product)
      .executeTakeFirst();
    if (installed?.digest === digest) return;
    // Rows of an earlier library (installed before the digest was kept here, too) take the shipped names.
    const earlier = await this.db.selectFrom('protocol_views').select('id').where('product', '=', product).limit(1).executeTakeFirst();
    await this.db.transaction().execute(async (trx) => {
      const insert = async (table: keyof typeof TABLES, values: object[]) => {
        for (let i = 0; i < values.length; i += CHUNK) {
          // The row objects come from buildLibrary, typed per table; Kysely cannot relate the table name to them here.
          await trx
            .insertInto(TABLES[table] as 'protocol_views')
            .values(values.slice(i, i + CHUNK) as never)
            .onConflict((oc) => oc.doNothing())
            .execute();
        }
      };
      await insert('patientTypes', rows.patientTypes);
      await insert('bodyParts', rows.bodyParts);
      await insert('procedures', rows.procedures);
      await insert('views', rows.views);
      await insert('exposures', rows.exposures);
      await insert('devices', rows.devices);
      if (earlier) await refreshShipped(trx, product, rows);
      // An upgrade: shipped programmes the site never edited (updated_at null) follow the library,
      // so recalibrated exposures reach existing installations; edited ones are the site's. Keyed on
      // rows being there, not on the digest table: a library from before that table is an upgrade too.
      if (earlier) {
        for (const e of rows.exposures) {
          await trx
            .updateTable('protocol_apr_exposures')
            .set({ config_object: e.config_object })
            .where('product', '=', e.product)
            .where('apr_id', '=', e.apr_id)
            .where('work_station_id', '=', e.work_station_id)
            .where('patient_size', '=', e.patient_size)
            .where('updated_at', 'is', null)
            .where('config_object', '<>', e.config_object)
            .execute();
        }
      }
      await insert('procedureViews', rows.procedureViews);
    });
    // The digest of the installed library, so a later start with the same library skips the work.
    await this.db
      .insertInto('protocol_library_installs')
      .values({ product, digest, installed_at: nowIso() })
      .onConflict((oc) => oc.column('product').doUpdateSet({ digest, installed_at: nowIso() }))
      .execute();
  }

  patientTypes(product: string, isEnabled?: boolean) {
    let q = this.db.selectFrom('protocol_patient_types').selectAll().where('product', '=', product);
    if (isEnabled !== undefined) q = q.where('is_enabled', '=', isEnabled ? 1 : 0);
    return q.orderBy('sort').execute();
  }

  bodyParts(f: ListFilter) {
    let q = this.db.selectFrom('protocol_body_parts').selectAll().where('product', '=', f.product);
    if (f.patientType) q = q.where('patient_type', '=', f.patientType);
    if (f.isEnabled !== undefined) q = q.where('is_enabled', '=', f.isEnabled ? 1 : 0);
    return q.orderBy('sort').orderBy('id').execute();
  }

  async procedures(
    f: ListFilter & { procedureType?: string; limit: number; offset: number },
  ): Promise<{ rows: ProcedureRow[]; count: number }> {
    let q = this.db.selectFrom('protocol_procedures').where('product', '=', f.product);
    if (f.patientType) q = q.where('patient_type', '=', f.patientType);
    if (f.bodyPart) q = q.where('body_part_id', '=', f.bodyPart);
    if (f.procedureType) q = q.where('procedure_type', '=', f.procedureType as 'NORMAL' | 'EMERGENCY');
    if (f.isEnabled !== undefined) q = q.where('is_enabled', '=', f.isEnabled ? 1 : 0);
    const count = (await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
    const rows = await q.selectAll().orderBy('sort').orderBy('id').limit(f.limit).offset(f.offset).execute();
    return { rows, count };
  }

  async views(f: ListFilter & { limit: number; offset: number }): Promise<{ rows: ViewRow[]; count: number }> {
    let q = this.db.selectFrom('protocol_views').where('product', '=', f.product);
    if (f.patientType) q = q.where('patient_type', '=', f.patientType);
    if (f.bodyPart) q = q.where('body_part_id', '=', f.bodyPart);
    if (f.isEnabled !== undefined) q = q.where('is_enabled', '=', f.isEnabled ? 1 : 0);
    const count = (await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
    const rows = await q.selectAll().orderBy('body_part_id').orderBy('sort').orderBy('id').limit(f.limit).offset(f.offset).execute();
    return { rows, count };
  }

  procedure(product: string, procedureId: string) {
    return this.db
      .selectFrom('protocol_procedures')
      .selectAll()
      .where('product', '=', product)
      .where('procedure_id', '=', procedureId)
      .executeTakeFirst();
  }

  viewsOfProcedure(product: string, procedureId: string): Promise<ViewRow[]> {
    return this.db
      .selectFrom('protocol_procedure_views as pv')
      .innerJoin('protocol_views as v', (j) => j.onRef('v.view_id', '=', 'pv.view_id').onRef('v.product', '=', 'pv.product'))
      .selectAll('v')
      .where('pv.product', '=', product)
      .where('pv.procedure_id', '=', procedureId)
      .orderBy('pv.sort')
      .execute();
  }

  view(product: string, viewId: string) {
    return this.db.selectFrom('protocol_views').selectAll().where('product', '=', product).where('view_id', '=', viewId).executeTakeFirst();
  }

  viewByIcon(icon: string) {
    return this.db.selectFrom('protocol_views').selectAll().where('icon', '=', icon).executeTakeFirst();
  }

  exposures(product: string, aprId: string) {
    return this.db
      .selectFrom('protocol_apr_exposures')
      .selectAll()
      .where('product', '=', product)
      .where('apr_id', '=', aprId)
      .orderBy('work_station_id')
      .orderBy('patient_size')
      .execute();
  }

  exposure(product: string, aprId: string, ws: number, size: string) {
    return this.db
      .selectFrom('protocol_apr_exposures')
      .selectAll()
      .where('product', '=', product)
      .where('apr_id', '=', aprId)
      .where('work_station_id', '=', ws)
      .where('patient_size', '=', size)
      .executeTakeFirst();
  }

  async updateExposure(product: string, aprId: string, ws: number, size: string, configObject: string, userId: number): Promise<boolean> {
    const result = await this.db
      .updateTable('protocol_apr_exposures')
      .set({ config_object: configObject, updated_at: new Date().toISOString(), updated_by: userId })
      .where('product', '=', product)
      .where('apr_id', '=', aprId)
      .where('work_station_id', '=', ws)
      .where('patient_size', '=', size)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  device(product: string, aprId: string, ws: number) {
    return this.db
      .selectFrom('protocol_apr_devices')
      .selectAll()
      .where('product', '=', product)
      .where('apr_id', '=', aprId)
      .where('work_station_id', '=', ws)
      .executeTakeFirst();
  }
}

const TABLES = {
  patientTypes: 'protocol_patient_types',
  bodyParts: 'protocol_body_parts',
  procedures: 'protocol_procedures',
  views: 'protocol_views',
  procedureViews: 'protocol_procedure_views',
  exposures: 'protocol_apr_exposures',
  devices: 'protocol_apr_devices',
} as const;

/** Pre-installed rows take the shipped library's descriptive fields (a site edits exposures only). */
async function refreshShipped(trx: Executor, product: Product, rows: LibraryRows): Promise<void> {
  for (const r of rows.patientTypes)
    await trx
      .updateTable('protocol_patient_types')
      .set({ name_en: r.name_en, name_zh: r.name_zh, sort: r.sort })
      .where('product', '=', product)
      .where('patient_type_id', '=', r.patient_type_id)
      .where('is_pre_install', '=', 1)
      .execute();
  for (const r of rows.bodyParts)
    await trx
      .updateTable('protocol_body_parts')
      .set({ name_en: r.name_en, name_zh: r.name_zh, patient_type: r.patient_type, sort: r.sort })
      .where('product', '=', product)
      .where('body_part_id', '=', r.body_part_id)
      .where('is_pre_install', '=', 1)
      .execute();
  for (const r of rows.procedures)
    await trx
      .updateTable('protocol_procedures')
      .set({
        name_en: r.name_en,
        name_zh: r.name_zh,
        patient_type: r.patient_type,
        body_part_id: r.body_part_id,
        procedure_type: r.procedure_type,
        procedure_category: r.procedure_category,
        protocol_laterality: r.protocol_laterality,
        fast_search: r.fast_search,
        sort: r.sort,
      })
      .where('product', '=', product)
      .where('procedure_id', '=', r.procedure_id)
      .where('is_pre_install', '=', 1)
      .execute();
  for (const r of rows.views)
    await trx
      .updateTable('protocol_views')
      .set({
        name_en: r.name_en,
        name_zh: r.name_zh,
        patient_type: r.patient_type,
        body_part_id: r.body_part_id,
        view_position: r.view_position,
        anatomic_region: r.anatomic_region,
        laterality: r.laterality,
        apr_category: r.apr_category,
        icon: r.icon,
        work_station_id: r.work_station_id,
        config_object: r.config_object,
        sort: r.sort,
      })
      .where('product', '=', product)
      .where('view_id', '=', r.view_id)
      .where('is_pre_install', '=', 1)
      .execute();
  // Membership of the shipped procedures is the library's; the caller inserts it afresh.
  const shipped = rows.procedures.map((r) => r.procedure_id);
  for (let i = 0; i < shipped.length; i += CHUNK)
    await trx
      .deleteFrom('protocol_procedure_views')
      .where('product', '=', product)
      .where('procedure_id', 'in', shipped.slice(i, i + CHUNK))
      .execute();
}
