import type { Insertable } from 'kysely';
import type {
  ProtocolAprDevicesTable,
  ProtocolAprExposuresTable,
  ProtocolBodyPartsTable,
  ProtocolPatientTypesTable,
  ProtocolProceduresTable,
  ProtocolProcedureViewsTable,
  ProtocolViewsTable,
} from '../../../db/schema.js';
import { HUMAN_ADULT, HUMAN_PAEDIATRIC, SPECIAL_TYPE } from './human.js';
import { ALL_TECHNIQUES, PATIENT_SIZES, anatomyOf, exposureFor, type Technique, type TechniqueKey } from './techniques.js';
import type { FieldSize, SpeciesTemplate, ViewTemplate } from './types.js';
import { VET_SPECIES } from './veterinary.js';

export type Product = 'DROS' | 'VETDROS';

export interface LibraryRows {
  patientTypes: Insertable<ProtocolPatientTypesTable>[];
  bodyParts: Insertable<ProtocolBodyPartsTable>[];
  procedures: Insertable<ProtocolProceduresTable>[];
  views: Insertable<ProtocolViewsTable>[];
  procedureViews: Insertable<ProtocolProcedureViewsTable>[];
  exposures: Insertable<ProtocolAprExposuresTable>[];
  devices: Insertable<ProtocolAprDevicesTable>[];
}

export const LIBRARY: Record<Product, SpeciesTemplate[]> = {
  DROS: [HUMAN_ADULT, HUMAN_PAEDIATRIC, SPECIAL_TYPE],
  VETDROS: VET_SPECIES,
};

const FIELD_CM: Record<FieldSize, [string, string]> = {
  '8x10': ['20CM', '25CM'],
  '10x12': ['24CM', '30CM'],
  '11x14': ['28CM', '35CM'],
  '14x14': ['35CM', '35CM'],
  '14x17': ['35CM', '43CM'],
  '17x17': ['43CM', '43CM'],
  '7x17': ['18CM', '43CM'],
};

const SIDES = [
  { nn: '01', laterality: 'R', zh: '右', en: 'right' },
  { nn: '02', laterality: 'L', zh: '左', en: 'left' },
] as const;
interface Side {
  nn: string;
  laterality: 'R' | 'L' | 'U';
  zh: string;
  en: string;
}
const unpaired = (species: SpeciesTemplate): Side => ({ nn: species.unpairedNn, laterality: 'U', zh: '', en: '' });

function sidesOf(species: SpeciesTemplate, view: ViewTemplate): readonly Side[] {
  return view.bilateral ? SIDES : [unpaired(species)];
}

/** A view's id: the specification's own where the template names it, else `<prefix><code>_<nn>`. */
function viewIdOf(species: SpeciesTemplate, view: ViewTemplate, side: Side): string {
  return `${species.viewPrefix}${view.id && !view.bilateral ? view.id : `${view.code}_${side.nn}`}`;
}

/** The procedure ids the specification fixes; the library's own are numbered around them. */
function pinnedProcedureIds(product: Product): Set<string> {
  const ids = new Set<string>();
  for (const species of LIBRARY[product])
    for (const part of species.parts) {
      for (const procedure of part.procedures) if (procedure.id) ids.add(procedure.id);
      for (const view of part.views) if (view.procedureId) ids.add(view.procedureId);
    }
  return ids;
}

/**
 * Display orientation (0020,0020) row/column for the projection, read as the viewer sees it;
 * quadrupeds use their own terms (PS3.3 C.7.6.1.1.1: CR cranial, CD caudal, D dorsal, V ventral).
 */
function orientation(position: string, quadruped: boolean): { row: string; column: string } {
  const lateral = ['LL', 'RL', 'LAT'].includes(position);
  if (quadruped) return lateral ? { row: 'CR', column: 'V' } : { row: 'L', column: 'CD' };
  return lateral ? { row: 'A', column: 'F' } : { row: 'L', column: 'F' };
}

function viewConfig(viewId: string, view: ViewTemplate, side: Side, technique: Technique, quadruped: boolean) {
  const [w, l] = view.field.split('x');
  const [wcm, lcm] = FIELD_CM[view.field];
  const o = orientation(view.position, quadruped);
  return {
    DX: {
      CollimatorCenter: '1',
      CollimatorFilter: '0',
      CollimatorNoChange: false,
      CollimatorShape: view.circular ? 'CIRCULAR' : 'RECTANGULAR',
      CollimatorSize: `${w}IN(${wcm})X${l}IN(${lcm})`,
      CollimatorSizeLength: `${l}IN`,
      CollimatorSizeWidth: `${w}IN`,
      ImageHorizontalFlip: 'NO',
      ImageLaterality: side.laterality,
      ImageRotate: '0',
      LabelPosition: side.laterality === 'L' ? 'RIGHT TOP' : 'LEFT TOP',
      LabelStyle: '',
      PatientOrientationColumn: o.column,
      PatientOrientationRow: o.row,
      RatioFactorLength: 0,
      RatioFactorSize: 0,
      RatioFactorThickness: 0,
      RatioFactorWeight: 0,
      StandPos: '43',
      TargetEXI: technique.targetEI,
      ViewID: viewId,
    },
  };
}

/** The specification's extremity categories (`EXTREMITIES_MEDIUM` for a hand); other views name their technique. */
const EXTREMITY_CATEGORIES: Partial<Record<TechniqueKey, string>> = {
  finger: 'EXTREMITIES_SMALL',
  toe: 'EXTREMITIES_SMALL',
  hand: 'EXTREMITIES_MEDIUM',
  wrist: 'EXTREMITIES_MEDIUM',
  forearm: 'EXTREMITIES_MEDIUM',
  elbow: 'EXTREMITIES_MEDIUM',
  foot: 'EXTREMITIES_MEDIUM',
  ankle: 'EXTREMITIES_MEDIUM',
  calcaneus: 'EXTREMITIES_MEDIUM',
  humerus: 'EXTREMITIES_LARGE',
  tibia: 'EXTREMITIES_LARGE',
  knee: 'EXTREMITIES_LARGE',
  patella: 'EXTREMITIES_LARGE',
  femur: 'EXTREMITIES_LARGE',
};
const aprCategory = (technique: TechniqueKey): string => EXTREMITY_CATEGORIES[technique] ?? technique.toUpperCase();

/**
 * Paediatric views start from the adult technique at a child's thickness (40 %) and 10 kV less,
 * without the grid below 10 cm (its dose penalty buys nothing with so little scatter).
 */
function baseTechnique(species: SpeciesTemplate, view: ViewTemplate): Technique {
  const t = ALL_TECHNIQUES[view.technique];
  if (species.category !== 'Paediatric') return t;
  const thickness = Math.max(1, Math.round(t.thickness * 0.4));
  return { ...t, kV: t.kV - 10, thickness, grid: t.grid && thickness > 10 };
}

/** SID at a work station: the charted SID at the view's own station, table 100 cm / wall 150 cm otherwise. */
function sidAt(ws: 0 | 1, view: ViewTemplate, technique: Technique): number {
  return ws === (view.ws ?? 0) ? technique.sid : ws === 0 ? 100 : 150;
}

export function buildLibrary(product: Product): LibraryRows {
  const rows: LibraryRows = { patientTypes: [], bodyParts: [], procedures: [], views: [], procedureViews: [], exposures: [], devices: [] };
  const prefix = product === 'DROS' ? 'P0' : 'V0';
  const pinned = pinnedProcedureIds(product);
  let procedureNo = 0;
  const nextProcedureId = (): string => {
    let id: string;
    do {
      procedureNo += 1;
      id = `${prefix}-${String(procedureNo).padStart(4, '0')}`;
    } while (pinned.has(id));
    return id;
  };
  let aprNo = 0;
  const seenTypes = new Set<string>();
  for (const species of LIBRARY[product]) {
    if (!seenTypes.has(species.patientType)) {
      seenTypes.add(species.patientType);
      rows.patientTypes.push({
        product,
        patient_type_id: species.patientType,
        name_en: species.en,
        name_zh: species.zh,
        sort: seenTypes.size,
        is_enabled: species.disabled ? 0 : 1,
        is_pre_install: 1,
      });
    }
    species.parts.forEach((part, partIndex) => {
      const bodyPartId = `${species.patientType}_${part.id}`;
      rows.bodyParts.push({
        product,
        body_part_id: bodyPartId,
        patient_type: species.patientType,
        name_en: part.en,
        name_zh: part.zh,
        category: 'DX',
        sort: partIndex + 1,
        is_enabled: 1,
        is_pre_install: 1,
      });
      const viewIds = new Map<string, string>(); // `${code}/${nn}` → view id
      part.views.forEach((view, viewIndex) => {
        const technique = baseTechnique(species, view);
        for (const side of sidesOf(species, view)) {
          const viewId = viewIdOf(species, view, side);
          viewIds.set(`${view.code}/${side.nn}`, viewId);
          aprNo += 1;
          rows.views.push({
            product,
            view_id: viewId,
            patient_type: species.patientType,
            body_part_id: bodyPartId,
            name_zh: `${side.zh}${view.zh}`,
            name_en: side.en ? `${view.en}, ${side.en}` : view.en,
            view_position: view.position,
            anatomic_region: view.region ?? part.region,
            laterality: side.laterality,
            apr_category: aprCategory(view.technique),
            icon: `${species.patientType}/${view.icon && !view.bilateral ? view.icon : `${viewId}.svg`}`,
            work_station_id: view.ws ?? 0,
            modality: 'DX',
            config_object: JSON.stringify(viewConfig(viewId, view, side, technique, species.category === 'Animal')),
            sort: viewIndex + 1,
            is_enabled: 1,
            is_pre_install: 1,
          });
          for (const ws of [0, 1] as const) {
            const sid = sidAt(ws, view, technique);
            rows.devices.push({
              product,
              apr_id: viewId,
              work_station_id: ws,
              config_object: JSON.stringify({
                Common: {
                  APRNumber: String(aprNo),
                  DetectorAngle: 0,
                  FpdAcquisitionMode: '101',
                  FrameRate: 0,
                  GridSpeed: 0,
                  GridType: technique.grid ? 2 : 0,
                  PositionNumber: String(ws + 1),
                  SID: sid,
                  Thickness: technique.thickness,
                  TubeAngle: view.tubeAngle ?? 0,
                },
              }),
            });
            for (const size of PATIENT_SIZES) {
              const e = exposureFor(technique, anatomyOf(view.technique), size, sid);
              rows.exposures.push({
                product,
                apr_id: viewId,
                work_station_id: ws,
                patient_size: size,
                updated_at: null,
                updated_by: null,
                config_object: JSON.stringify({
                  Common: {
                    AECDensity: 0,
                    AECField: '010',
                    AECFilm: 1,
                    Dose: 0,
                    ExposureMode: 0,
                    Focus: e.focus,
                    TOD: 0,
                    TubeLoad: 0,
                    kV: e.kV,
                    mA: e.mA,
                    mAs: e.mAs,
                    ms: e.ms,
                  },
                }),
              });
            }
          }
        }
      });
      const addProcedure = (zh: string, en: string, codes: string[], side: Side, emergency: boolean, pinnedId?: string) => {
        const procedureId = pinnedId && side.laterality === 'U' ? pinnedId : nextProcedureId();
        rows.procedures.push({
          product,
          procedure_id: procedureId,
          patient_type: species.patientType,
          body_part_id: bodyPartId,
          name_zh: `${side.zh}${zh}`,
          name_en: side.en ? `${en}, ${side.en}` : en,
          procedure_type: emergency ? 'EMERGENCY' : 'NORMAL',
          procedure_category: species.category,
          protocol_laterality: side.laterality,
          fast_search: emergency ? 1 : 0,
          modality: 'DX',
          sort: rows.procedures.length + 1,
          is_enabled: 1,
          is_pre_install: 1,
        });
        codes.forEach((code, index) => {
          const viewId = viewIds.get(`${code}/${side.nn}`) ?? viewIds.get(`${code}/${species.unpairedNn}`);
          if (!viewId) throw new Error(`procedure ${en} names unknown view ${code}`);
          rows.procedureViews.push({ product, procedure_id: procedureId, view_id: viewId, sort: index + 1 });
        });
      };
      for (const procedure of part.procedures) {
        const bilateral = procedure.views.some((code) => part.views.find((x) => x.code === code)?.bilateral);
        for (const side of bilateral ? SIDES : [unpaired(species)])
          addProcedure(procedure.zh, procedure.en, procedure.views, side, procedure.emergency ?? false, procedure.id);
      }
      for (const view of part.views) {
        for (const side of sidesOf(species, view))
          addProcedure(view.procedureZh ?? view.zh, view.procedureEn ?? view.en, [view.code], side, false, view.procedureId);
      }
    });
  }
  return rows;
}
