import { masForTarget, thicknessForSize, voiWater } from '../../../imaging/exposure-model.js';
import { phantomKindOf, voiFraction, type PhantomKind } from '../../../imaging/phantom.js';

/**
 * Exposure baselines for a medium-size adult (or a ~20 kg dog / ~4 kg cat) at the reference
 * SID, and the rules that derive every APR row from them.
 *
 * kV, SID, grid and part thickness come from the charts: "Baseline General X-ray Technique
 * Chart" and Bontrager's Handbook of Radiographic Positioning and Techniques for humans; the
 * caliper method and published DR values for animals (cat thorax 55–60 kV, medium dog thorax
 * 70–85 kV, dog abdomen and pelvis 65–75 kV). The mAs is not copied from those charts (they are
 * film/CR-era and 2–10× too much for a DR panel's target EI): it is what the shared exposure
 * model (imaging/exposure-model.ts) says brings the view's value of interest to its target
 * EI, rounded to the generator's R'10 mAs steps, the calibration a site does at installation.
 */
export interface Technique {
  kV: number;
  /** Reference source-image distance (cm) the baseline was charted at. */
  sid: number;
  grid: boolean;
  /** Typical part thickness (cm) of a medium patient, stored with the device parameters. */
  thickness: number;
  /** Target exposure index (IEC 62494-1) for the view. */
  targetEI: number;
}

const t = (kV: number, sid: number, grid: boolean, thickness: number, targetEI = 300): Technique => ({
  kV,
  sid,
  grid,
  thickness,
  targetEI,
});

export const HUMAN_TECHNIQUES = {
  chestPA: t(115, 180, true, 22, 250),
  chestLAT: t(120, 180, true, 32, 250),
  chestAPsupine: t(90, 100, true, 22, 250),
  ribs: t(75, 100, true, 22),
  skullAP: t(80, 100, true, 19),
  skullLAT: t(75, 100, true, 15),
  facial: t(80, 100, true, 19),
  cspineAP: t(75, 100, true, 12),
  cspineLAT: t(80, 150, true, 12),
  tspineAP: t(80, 100, true, 22),
  tspineLAT: t(85, 100, true, 32),
  lspineAP: t(85, 100, true, 22),
  lspineLAT: t(95, 100, true, 30),
  sacrum: t(80, 100, true, 20),
  abdomen: t(80, 100, true, 22),
  pelvis: t(80, 100, true, 22),
  hip: t(80, 100, true, 18),
  hand: t(58, 100, false, 3, 400),
  finger: t(55, 100, false, 2, 400),
  wrist: t(60, 100, false, 5, 400),
  forearm: t(62, 100, false, 7, 400),
  elbow: t(63, 100, false, 8, 400),
  humerus: t(70, 100, false, 10, 350),
  shoulder: t(75, 100, true, 15),
  clavicle: t(72, 100, true, 14),
  foot: t(60, 100, false, 7, 400),
  toe: t(55, 100, false, 3, 400),
  ankle: t(63, 100, false, 9, 400),
  calcaneus: t(65, 100, false, 9, 400),
  tibia: t(65, 100, false, 11, 350),
  knee: t(70, 100, false, 12, 350),
  patella: t(70, 100, false, 12, 350),
  femur: t(75, 100, true, 15),
} as const satisfies Record<string, Technique>;

export const VET_TECHNIQUES = {
  dogThorax: t(80, 100, true, 20, 250),
  dogAbdomen: t(70, 100, true, 20, 300),
  dogPelvis: t(70, 100, true, 16, 300),
  dogSpine: t(70, 100, true, 14, 300),
  dogSkull: t(70, 100, true, 12, 300),
  dogLimb: t(60, 100, false, 6, 400),
  catThorax: t(58, 100, false, 10, 250),
  catAbdomen: t(60, 100, false, 10, 300),
  catSkeleton: t(55, 100, false, 8, 350),
  rabbitBody: t(52, 100, false, 8, 300),
  rabbitSkull: t(55, 100, false, 6, 350),
} as const satisfies Record<string, Technique>;

export type TechniqueKey = keyof typeof HUMAN_TECHNIQUES | keyof typeof VET_TECHNIQUES;
export const ALL_TECHNIQUES: Record<TechniqueKey, Technique> = { ...HUMAN_TECHNIQUES, ...VET_TECHNIQUES };

export const PATIENT_SIZES = ['Large', 'Medium', 'Small', 'Paediatric'] as const;
export type PatientSize = (typeof PATIENT_SIZES)[number];

/**
 * Size rules: the part is thicker or thinner by the size's factor (exposure-model.ts:
 * SIZE_THICKNESS, Large ≈ +3 cm on a 22 cm trunk), the kV follows the variable-kV chart at
 * 1.5 kV per cm (Sante's 2 kV/cm, softened so a child's chest is not exposed at 80 kV), and the
 * mAs is whatever then reaches the target EI through the size's thickness.
 */
const KV_PER_CM = 1.5;
const SIZE_KV_STEP: Record<PatientSize, number> = { Large: 1, Medium: 0, Small: -1, Paediatric: -2 };

/** The generator's mAs steps (the R'10 series, 0.1 … 400 mAs): programmes are stored on these. */
const MAS_STEPS = [0.1, 0.125, 0.16, 0.2, 0.25, 0.32, 0.4, 0.5, 0.63, 0.8]
  .flatMap((m) => [m, m * 10, m * 100, m * 1000])
  .sort((a, b) => a - b);

/** The nearest R'10 step on a log scale (at most ±12 %, ±0.5 DI). */
export function nearestMasStep(mas: number): number {
  let best = MAS_STEPS[0];
  for (const step of MAS_STEPS) if (Math.abs(Math.log(step / mas)) < Math.abs(Math.log(best / mas))) best = step;
  return Math.round(best * 1000) / 1000;
}

/** Tube current stations of a typical 50 kW generator (down to 10 mA for the smallest children). */
const MA_STATIONS = [630, 500, 400, 320, 250, 200, 160, 125, 100, 80, 63, 50, 40, 32, 25, 20, 16, 10];
const POWER_W = 50_000;
const MIN_MS = 10;

export interface Exposure {
  kV: number;
  mA: number;
  ms: number;
  mAs: number;
  focus: 0 | 1;
}

/**
 * Picks mA and ms for the mAs: the highest station that keeps ms ≥ 16 (short times, little
 * motion blur) and, at `kV`, the generator's power (kV × mA ≤ 50 kW).
 */
export function splitMas(targetMas: number, kV = 0): { mA: number; ms: number; mAs: number } {
  const mas = Math.max(targetMas, (MA_STATIONS[MA_STATIONS.length - 1] * MIN_MS) / 1000);
  for (const mA of MA_STATIONS) {
    if (kV * mA > POWER_W) continue;
    const ms = Math.round((mas * 1000) / mA);
    if (ms >= 16 || mA === MA_STATIONS[MA_STATIONS.length - 1]) {
      const exact = Math.max(ms, MIN_MS);
      // mAs is recomputed from the integers, so mAs = mA × ms / 1000 holds exactly.
      return { mA, ms: exact, mAs: (mA * exact) / 1000 };
    }
  }
  throw new Error('unreachable');
}

/** The simulated anatomy a technique family is exposed on: the same choice the detector simulator makes. */
export function anatomyOf(techniqueKey: string): PhantomKind {
  return phantomKindOf(techniqueKey);
}

/**
 * The exposure for a size at an SID: the size's thickness and kV, then the mAs that brings the
 * value of interest (the part's water-equivalent path on the phantom) to the target EI.
 */
export function exposureFor(technique: Technique, anatomy: PhantomKind, size: PatientSize, sid: number): Exposure {
  const thickness = thicknessForSize(technique.thickness, size);
  // At least a kV step per size (Large +1, Small −1, Paediatric −2): a thin part's few millimetres still move the programme.
  const dkV = Math.round(KV_PER_CM * (thickness - technique.thickness));
  const least = SIZE_KV_STEP[size];
  const kV = Math.max(40, Math.min(150, technique.kV + (least > 0 ? Math.max(least, dkV) : least < 0 ? Math.min(least, dkV) : 0)));
  const mAs = masForTarget({ kv: kV, sidCm: sid, grid: technique.grid }, voiWater(thickness, voiFraction(anatomy)), technique.targetEI);
  const split = splitMas(nearestMasStep(mAs), kV);
  return { kV, ...split, focus: split.mA > 200 ? 1 : 0 };
}

/**
 * Thickness chart (the `thickness/{cm}/apr` endpoint): Sante's rule kV = 2·cm + SID(in) + grid,
 * with SID 40 in (100 cm) and +12 kV for a grid above 10 cm, capped at 140 kV; mAs doubles
 * every 5 cm from 2 mAs at 10 cm (fixed-kV rule), capped at 20 mAs (where AEC is the answer).
 */
export function thicknessExposure(cm: number): Exposure {
  const kV = Math.min(140, 2 * cm + 40 + (cm > 10 ? 12 : 0));
  const split = splitMas(Math.min(20, Math.max(0.5, Math.round(2 * 2 ** ((cm - 10) / 5) * 100) / 100)), kV);
  return { kV, ...split, focus: split.mA > 200 ? 1 : 0 };
}
