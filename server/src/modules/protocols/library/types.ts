import type { TechniqueKey } from './techniques.js';

/** Field size in inches (width × length), as the console's collimator presets name them. */
export type FieldSize = '8x10' | '10x12' | '11x14' | '14x14' | '14x17' | '17x17' | '7x17';

export interface ViewTemplate {
  /** Code inside the view id, e.g. `HD_PA`. */
  code: string;
  zh: string;
  en: string;
  /** DICOM View Position (0018,5101) term. */
  position: string;
  technique: TechniqueKey;
  field: FieldSize;
  /** Preferred work station: 0 table, 1 wall stand. */
  ws?: 0 | 1;
  /** Expands into right (01) and left (02) views. */
  bilateral?: boolean;
  tubeAngle?: number;
  /** Circular collimation (e.g. skull sinuses cone). */
  circular?: boolean;
  /** The id after the species' prefix when it is not `<code>_<nn>` (the specification's own ids, e.g. `SK_Special_04`). */
  id?: string;
  /** Anatomic region shown for this view when it is not the body part's (the specification's `Facial bones`). */
  region?: string;
  /** Pictogram file (under the patient type's folder) when the specification names one. */
  icon?: string;
  /** The id of the view's single-view procedure when the specification fixes it (`P0-0001`). */
  procedureId?: string;
  /** The single-view procedure's names when they differ from the view's. */
  procedureZh?: string;
  procedureEn?: string;
}

export interface ProcedureTemplate {
  code: string;
  zh: string;
  en: string;
  /** View codes; for bilateral views the procedure is made once per side. */
  views: string[];
  emergency?: boolean;
  /** The procedure id when the specification fixes it (`P0-0002`); others are numbered around it. */
  id?: string;
}

export interface BodyPartTemplate {
  /** Suffix of the body part id (`Human_SKULL`). */
  id: string;
  zh: string;
  en: string;
  /** DICOM Body Part Examined (0018,0015), PS3.16 Annex L. */
  region: string;
  views: ViewTemplate[];
  /** Multi-view procedures; every view also gets a single-view procedure. */
  procedures: ProcedureTemplate[];
}

export interface SpeciesTemplate {
  patientType: string;
  zh: string;
  en: string;
  /** Prefix of its view ids, e.g. `View_DX_T_A_` (adult human), `View_Dog_` (the specification's two schemes). */
  viewPrefix: string;
  /** Number suffix of a view made once (not per side): `00` for humans, `01` for animals, as in the specification. */
  unpairedNn: '00' | '01';
  /** Shipped but switched off (the specification's `SpecialType`). */
  disabled?: boolean;
  category: 'Adult' | 'Paediatric' | 'Animal';
  parts: BodyPartTemplate[];
}

/** Shorthand the library tables use: code, names, View Position, technique, field, extras. */
export function view(
  code: string,
  zh: string,
  en: string,
  position: string,
  technique: ViewTemplate['technique'],
  field: FieldSize,
  extra: Partial<ViewTemplate> = {},
): ViewTemplate {
  return { code, zh, en, position, technique, field, ...extra };
}

/** Marks a view as made once per side (right 01, left 02). */
export const both = { bilateral: true } as const;
