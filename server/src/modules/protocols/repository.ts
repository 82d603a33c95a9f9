import { createHash } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { ProtocolProceduresTable, ProtocolViewsTable } from '../../db/schema.js';
import type { Db } from '../../db/index.js';
import { nowIso } from '../../util/time.js';
import { buildLibrary, type Product } from './library/build.js';

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
   * exposures survive upgrades (unedited shipped programmes are brought to the library's values);
   * a digest of the shipped data skips the work when unchanged.
   */
  async seed(product: Product): Promise<void> {
    const rows = buildLibrary(product);
    const digest = createHash('sha256').update(JSON.stringify(rows)).digest('hex');
    const installed = await this.db
      .selectFrom('server_secrets')
      .select('value')
      .where('name', '=', `protocol_library_${product}`)
      .executeTakeFirst();
    if (installed?.value === digest) return;
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
      await insert('procedureViews', rows.procedureViews);
      await insert('exposures', rows.exposures);
      await insert('devices', rows.devices);
      // An upgrade: shipped programmes the site never edited (updated_at null) follow the library,
      // so recalibrated exposures reach existing installations; edited ones are the site's.
      if (installed) {
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
    });
    // The digest of the installed library, so a later start with the same library skips the work.
    await this.db.deleteFrom('server_secrets').where('name', '=', `protocol_library_${product}`).execute();
    await this.db
      .insertInto('server_secrets')
      .values({ name: `protocol_library_${product}`, value: digest, created_at: nowIso() })
      .onConflict((oc) => oc.column('name').doNothing())
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
