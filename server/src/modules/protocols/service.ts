import type { Language } from '../../util/client.js';
import { AppError } from '../../util/errors.js';
import { thicknessExposure } from './library/techniques.js';
import type { ListFilter, ProcedureRow, ProtocolRepository, ViewRow } from './repository.js';

const zhOr = (language: Language, zh: string, en: string) => (language === 'zh_CN' ? zh : en);
const bool = (v: number) => v === 1;

export function viewBody(row: ViewRow, language: Language) {
  const icon = `/Image/Position/${row.icon}`;
  const name = zhOr(language, row.name_zh, row.name_en);
  return {
    internal_id: row.view_id,
    view_id: row.view_id,
    view_name: name,
    view_name_local: '',
    view_other_name: row.name_en,
    view_description: name,
    view_position: row.view_position,
    application: 'RAD',
    anatomic_region: row.anatomic_region,
    patient_type: row.patient_type,
    body_part_id: row.body_part_id,
    view_icon_name: icon,
    view_big_icon_name: icon,
    view_coach_name: icon,
    modality: row.modality,
    work_station_id: row.work_station_id,
    apr_id: row.view_id,
    img_proc_id: row.view_id,
    config_object: JSON.parse(row.config_object) as unknown,
    sort: row.sort,
    is_enabled: bool(row.is_enabled),
    product: row.product,
    is_pre_install: bool(row.is_pre_install),
  };
}

export function procedureBody(row: ProcedureRow, language: Language) {
  const name = zhOr(language, row.name_zh, row.name_en);
  return {
    id: String(row.id),
    procedure_id: row.procedure_id,
    procedure_code: row.procedure_id,
    procedure_name: name,
    procedure_name_local: name,
    procedure_other_name: row.name_en,
    procedure_description: name,
    procedure_description_local: name,
    patient_type: row.patient_type,
    body_part_id: row.body_part_id,
    procedure_type: row.procedure_type,
    fast_search: bool(row.fast_search),
    protocol_laterality: row.protocol_laterality,
    procedure_category: row.procedure_category,
    modality: row.modality,
    sort: row.sort,
    is_enabled: bool(row.is_enabled),
    product: row.product,
    is_pre_install: bool(row.is_pre_install),
  };
}

export interface ExposureInput {
  work_station_id: number;
  patient_size: string;
  kV: number;
  mA: number;
  ms: number;
  mAs: number;
}

export class ProtocolService {
  constructor(private readonly repo: ProtocolRepository) {}

  async patientTypes(product: string, language: Language, isEnabled?: boolean) {
    const rows = await this.repo.patientTypes(product, isEnabled);
    return {
      patient_type_list: rows.map((r) => ({
        id: String(r.id),
        patient_type_id: r.patient_type_id,
        patient_type_name: r.patient_type_id,
        patient_type_local: zhOr(language, r.name_zh, r.name_en),
        patient_type_description: r.name_en,
        sort: r.sort,
        is_enabled: bool(r.is_enabled),
        product: r.product,
        is_pre_install: bool(r.is_pre_install),
      })),
    };
  }

  async bodyParts(filter: ListFilter, language: Language) {
    const rows = await this.repo.bodyParts(filter);
    return {
      body_part_list: rows.map((r) => ({
        id: String(r.id),
        body_part_id: r.body_part_id,
        body_part_name: zhOr(language, r.name_zh, r.name_en),
        body_part_local: zhOr(language, r.name_zh, r.name_en),
        body_part_description: r.name_en,
        patient_type: r.patient_type,
        category: r.category,
        sort: r.sort,
        is_enabled: bool(r.is_enabled),
        product: r.product,
        is_pre_install: bool(r.is_pre_install),
      })),
    };
  }

  async procedures(filter: Parameters<ProtocolRepository['procedures']>[0], language: Language) {
    const { rows, count } = await this.repo.procedures(filter);
    return { count, procedures: rows.map((r) => procedureBody(r, language)) };
  }

  async views(filter: Parameters<ProtocolRepository['views']>[0], language: Language) {
    const { rows, count } = await this.repo.views(filter);
    return { count, views: rows.map((r) => viewBody(r, language)) };
  }

  async viewsOfProcedure(product: string, procedureId: string, language: Language) {
    if (!(await this.repo.procedure(product, procedureId))) throw new AppError('PROCEDURE_NOT_FOUND', [], procedureId);
    const rows = await this.repo.viewsOfProcedure(product, procedureId);
    return { count: rows.length, views: rows.map((r) => viewBody(r, language)) };
  }

  async requireView(product: string, viewId: string): Promise<ViewRow> {
    const row = await this.repo.view(product, viewId);
    if (!row) throw new AppError('VIEW_NOT_FOUND', [], viewId);
    return row;
  }

  async view(product: string, viewId: string, language: Language) {
    return viewBody(await this.requireView(product, viewId), language);
  }

  /** APR ids equal view ids (one exposure programme per view). */
  async apr(product: string, aprId: string, language: Language) {
    const view = await this.repo.view(product, aprId);
    if (!view) throw new AppError('APR_NOT_FOUND', [], aprId);
    const exposures = await this.repo.exposures(product, aprId);
    return {
      apr_id: aprId,
      apr_name: aprId,
      apr_description: zhOr(language, view.name_zh, view.name_en),
      patient_type: view.patient_type,
      body_part_id: view.body_part_id,
      view_position: view.view_position,
      category: view.apr_category,
      modality: view.modality,
      exposures: exposures.map((e) => ({
        work_station_id: e.work_station_id,
        patient_size: e.patient_size,
        config_object: JSON.parse(e.config_object) as unknown,
      })),
      sort: 0,
      is_enabled: bool(view.is_enabled),
      product: view.product,
      is_pre_install: bool(view.is_pre_install),
    };
  }

  /** Edits one exposure row; the four figures must agree, and the other fields of the row are kept. */
  async updateExposure(product: string, aprId: string, input: ExposureInput, userId: number): Promise<void> {
    if (Math.abs((input.mA * input.ms) / 1000 - input.mAs) > Math.max(0.01, input.mAs * 0.01)) {
      throw new AppError('EXPOSURE_INCONSISTENT', [{ field: 'mAs', message: `mA × ms / 1000 = ${(input.mA * input.ms) / 1000}` }]);
    }
    const row = await this.repo.exposure(product, aprId, input.work_station_id, input.patient_size);
    if (!row) throw new AppError('APR_NOT_FOUND', [], `${aprId} work station ${input.work_station_id} ${input.patient_size}`);
    const config = JSON.parse(row.config_object) as { Common: Record<string, unknown> };
    config.Common = { ...config.Common, kV: input.kV, mA: input.mA, ms: input.ms, mAs: input.mAs };
    await this.repo.updateExposure(product, aprId, input.work_station_id, input.patient_size, JSON.stringify(config), userId);
  }

  async device(product: string, aprId: string, ws: number) {
    const row = await this.repo.device(product, aprId, ws);
    if (!row) throw new AppError('APR_NOT_FOUND', [], `${aprId} work station ${ws}`);
    return { work_station_id: ws, config_object: JSON.parse(row.config_object) as unknown };
  }

  /** Device (dp) and exposure (ep) parameters the generator is loaded with for a size and station. */
  async tech(product: string, aprId: string, ws: number, size: string) {
    const [device, exposure] = await Promise.all([this.repo.device(product, aprId, ws), this.repo.exposure(product, aprId, ws, size)]);
    if (!device || !exposure) throw new AppError('APR_NOT_FOUND', [], `${aprId} work station ${ws} ${size}`);
    const dp = (JSON.parse(device.config_object) as { Common: Record<string, unknown> }).Common;
    const ep = (JSON.parse(exposure.config_object) as { Common: Record<string, unknown> }).Common;
    return {
      dp: {
        SID: dp.SID,
        GridType: dp.GridType,
        GridSpeed: dp.GridSpeed,
        DetectorAngle: dp.DetectorAngle,
        TubeAngle: dp.TubeAngle,
        TubeHeight: 0,
        APRNumber: dp.APRNumber,
        PositionNumber: dp.PositionNumber,
        Thickness: dp.Thickness,
        FrameRate: dp.FrameRate,
        LongTimeExp: 0,
      },
      ep: {
        kV: ep.kV,
        mA: ep.mA,
        ms: ep.ms,
        mAs: ep.mAs,
        ExposureMode: ep.ExposureMode,
        Focus: ep.Focus,
        AECFilm: ep.AECFilm,
        AECField: ep.AECField,
        AECDensity: ep.AECDensity,
        Dose: ep.Dose,
        TubeLoad: ep.TubeLoad,
        TOD: ep.TOD,
        CompressionThickness: 0,
      },
    };
  }

  thickness(cm: number) {
    const e = thicknessExposure(cm);
    return { thickness: cm, kV: e.kV, mA: e.mA, ms: e.ms, mAs: e.mAs };
  }

  /** A simple generated pictogram for a view: position label, laterality and name. */
  async pictogram(patientType: string, file: string): Promise<string> {
    // The specification's large and coach pictograms add `.large` or `.x` before the extension.
    const row =
      (await this.repo.viewByIcon(`${patientType}/${file}`)) ??
      (await this.repo.viewByIcon(`${patientType}/${file.replace(/\.(large|x)(\.[a-z]+)$/, '$2')}`));
    if (!row) throw new AppError('PICTOGRAM_NOT_FOUND', [], `${patientType}/${file}`);
    const escape = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
    const side = row.laterality === 'U' ? '' : row.laterality;
    return (
      `<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128">` +
      `<rect x="2" y="2" width="124" height="124" rx="10" fill="#1d2633" stroke="#7fa7d9" stroke-width="3"/>` +
      `<text x="64" y="58" font-family="sans-serif" font-size="30" font-weight="bold" fill="#e8eef6" text-anchor="middle">${escape(row.view_position)}</text>` +
      `<text x="64" y="86" font-family="sans-serif" font-size="18" fill="#f5c542" text-anchor="middle">${escape(side)}</text>` +
      `<text x="64" y="112" font-family="sans-serif" font-size="11" fill="#b8c4d3" text-anchor="middle">${escape(row.name_en.slice(0, 22))}</text></svg>`
    );
  }
}
