/**
 * Exposure baselines for a medium-size adult (or a ~20 kg dog / ~4 kg cat) at the reference
 * SID, and the rules that derive every APR row from them.
 *
 * Sources:
 * - Human: "Baseline General X-ray Technique Chart" (film/CR era) and Bontrager's Handbook of
 *   Radiographic Positioning and Techniques; for DR we start at the low end of the chart's mAs
 *   range, DR needing less dose than film (chest PA 110–125 kV / 3–20 mAs → 115 kV / 4 mAs, etc.).
 * - Veterinary: the caliper method (thorax 95 kV family, abdomen at 2× thorax mAs, spine and
 *   long bones at 65 kV family) and typical published DR values (cat thorax 55–60 kV
 *   2–4 mAs, medium dog thorax 70–85 kV 2–4 mAs, dog abdomen 65–75 kV 4–8 mAs, pelvis VD
 *   65–75 kV 6–10 mAs). Calibrate per site and detector.
 */
export interface Technique {
  kV: number;
  mAs: number;
  /** Reference source-image distance (cm) the baseline was charted at. */
  sid: number;
  grid: boolean;
  /** Typical part thickness (cm) of a medium patient, stored with the device parameters. */
  thickness: number;
  /** Target exposure index (IEC 62494-1) for the view. */
  targetEI: number;
}

const t = (kV: number, mAs: number, sid: number, grid: boolean, thickness: number, targetEI = 300): Technique => ({
  kV,
  mAs,
  sid,
  grid,
  thickness,
  targetEI,
});

export const HUMAN_TECHNIQUES = {
  chestPA: t(115, 4, 180, true, 22, 250),
  chestLAT: t(120, 12, 180, true, 32, 250),
  chestAPsupine: t(90, 3.2, 100, true, 22, 250),
  ribs: t(75, 16, 100, true, 22),
  skullAP: t(80, 20, 100, true, 19),
  skullLAT: t(75, 12, 100, true, 15),
  facial: t(80, 16, 100, true, 19),
  cspineAP: t(75, 10, 100, true, 12),
  cspineLAT: t(80, 12, 150, true, 12),
  tspineAP: t(80, 20, 100, true, 22),
  tspineLAT: t(85, 32, 100, true, 32),
  lspineAP: t(85, 25, 100, true, 22),
  lspineLAT: t(95, 80, 100, true, 30),
  sacrum: t(80, 25, 100, true, 20),
  abdomen: t(80, 20, 100, true, 22),
  pelvis: t(80, 16, 100, true, 22),
  hip: t(80, 16, 100, true, 18),
  hand: t(58, 1.6, 100, false, 3, 400),
  finger: t(55, 1.2, 100, false, 2, 400),
  wrist: t(60, 2, 100, false, 5, 400),
  forearm: t(62, 2.5, 100, false, 7, 400),
  elbow: t(63, 3.2, 100, false, 8, 400),
  humerus: t(70, 5, 100, false, 10, 350),
  shoulder: t(75, 10, 100, true, 15),
  clavicle: t(72, 8, 100, true, 14),
  foot: t(60, 2.5, 100, false, 7, 400),
  toe: t(55, 1.6, 100, false, 3, 400),
  ankle: t(63, 4, 100, false, 9, 400),
  calcaneus: t(65, 5, 100, false, 9, 400),
  tibia: t(65, 5, 100, false, 11, 350),
  knee: t(70, 8, 100, false, 12, 350),
  patella: t(70, 6, 100, false, 12, 350),
  femur: t(75, 12, 100, true, 15),
} as const satisfies Record<string, Technique>;

export const VET_TECHNIQUES = {
  dogThorax: t(80, 3.2, 100, true, 20, 250),
  dogAbdomen: t(70, 6.3, 100, true, 20, 300),
  dogPelvis: t(70, 8, 100, true, 16, 300),
  dogSpine: t(70, 10, 100, true, 14, 300),
  dogSkull: t(70, 8, 100, true, 12, 300),
  dogLimb: t(60, 4, 100, false, 6, 400),
  catThorax: t(58, 2.5, 100, false, 10, 250),
  catAbdomen: t(60, 4, 100, false, 10, 300),
  catSkeleton: t(55, 4, 100, false, 8, 350),
  rabbitBody: t(52, 2.5, 100, false, 8, 300),
  rabbitSkull: t(55, 3.2, 100, false, 6, 350),
} as const satisfies Record<string, Technique>;

export type TechniqueKey = keyof typeof HUMAN_TECHNIQUES | keyof typeof VET_TECHNIQUES;
export const ALL_TECHNIQUES: Record<TechniqueKey, Technique> = { ...HUMAN_TECHNIQUES, ...VET_TECHNIQUES };

export const PATIENT_SIZES = ['Large', 'Medium', 'Small', 'Paediatric'] as const;
export type PatientSize = (typeof PATIENT_SIZES)[number];

/**
 * Size rules, from the variable-kV chart (≈2 kV per cm below 80 kV) and the fixed-kV chart
 * (2× mAs per 4–5 cm): Large ≈ +3 cm, Small ≈ −3 cm, Paediatric ≈ a third of the adult
 * thickness with kV lowered and mAs cut to 40 %.
 */
const SIZE_RULES: Record<PatientSize, { dkV: number; mAsFactor: number }> = {
  Large: { dkV: 4, mAsFactor: 1.5 },
  Medium: { dkV: 0, mAsFactor: 1 },
  Small: { dkV: -4, mAsFactor: 0.7 },
  Paediatric: { dkV: -10, mAsFactor: 0.4 },
};

/** Tube current stations of a typical 50 kW generator. */
const MA_STATIONS = [630, 500, 400, 320, 250, 200, 160, 125, 100, 80, 63, 50];
const MIN_MS = 10;

export interface Exposure {
  kV: number;
  mA: number;
  ms: number;
  mAs: number;
  focus: 0 | 1;
}

/** Picks mA and ms for the mAs: the highest station that keeps ms ≥ 16 (short times, little motion blur). */
export function splitMas(targetMas: number): { mA: number; ms: number; mAs: number } {
  const mas = Math.max(targetMas, (MA_STATIONS[MA_STATIONS.length - 1] * MIN_MS) / 1000);
  for (const mA of MA_STATIONS) {
    const ms = Math.round((mas * 1000) / mA);
    if (ms >= 16 || mA === MA_STATIONS[MA_STATIONS.length - 1]) {
      const exact = Math.max(ms, MIN_MS);
      // mAs is recomputed from the integers, so mAs = mA × ms / 1000 holds exactly.
      return { mA, ms: exact, mAs: (mA * exact) / 1000 };
    }
  }
  throw new Error('unreachable');
}

/** The exposure for a size at an SID: size rule, then the inverse-square law (mAs ∝ SID²). */
export function exposureFor(technique: Technique, size: PatientSize, sid: number): Exposure {
  const rule = SIZE_RULES[size];
  const kV = Math.max(40, Math.min(150, technique.kV + rule.dkV));
  const mAs = technique.mAs * rule.mAsFactor * (sid / technique.sid) ** 2;
  const split = splitMas(Math.round(mAs * 100) / 100);
  return { kV, ...split, focus: split.mA > 200 ? 1 : 0 };
}

/**
 * Thickness chart (the `thickness/{cm}/apr` endpoint): Sante's rule kV = 2·cm + SID(in) + grid,
 * with SID 40 in (100 cm) and +12 kV for a grid above 10 cm, capped at 140 kV; mAs doubles
 * every 5 cm from 2 mAs at 10 cm (fixed-kV rule), capped at 20 mAs (where AEC is the answer).
 */
export function thicknessExposure(cm: number): Exposure {
  const kV = Math.min(140, 2 * cm + 40 + (cm > 10 ? 12 : 0));
  const split = splitMas(Math.min(20, Math.max(0.5, Math.round(2 * 2 ** ((cm - 10) / 5) * 100) / 100)));
  return { kV, ...split, focus: split.mA > 200 ? 1 : 0 };
}
