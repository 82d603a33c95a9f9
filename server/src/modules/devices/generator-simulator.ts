import { DeviceError, type DeviceParams } from './driver.js';
import type { GeneratorDriver, Technique } from './drivers.js';

/** Renard R10 steps (IEC 60601-2-54's preferred mA, ms and mAs values), one decade. */
const R10 = [1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8];

function r10Step(value: number, direction: 1 | -1): number {
  const decade = 10 ** Math.floor(Math.log10(value));
  const mantissa = value / decade;
  if (direction > 0) {
    const next = R10.find((r) => r > mantissa + 1e-9);
    return next === undefined ? 10 * decade : next * decade;
  }
  const previous = [...R10].reverse().find((r) => r < mantissa - 1e-9);
  return previous === undefined ? 0.8 * decade : previous * decade;
}

export const GENERATOR_STATUS = {
  STANDBY: 'GENERATOR_STATUS_STANDBY',
  PREPARING: 'GENERATOR_STATUS_PREPARE',
  READY: 'GENERATOR_STATUS_READY',
  EXPOSING: 'GENERATOR_STATUS_EXPOSE',
  COOLING: 'GENERATOR_STATUS_COOLING',
} as const;
export type GeneratorStatus = (typeof GENERATOR_STATUS)[keyof typeof GENERATOR_STATUS];

/** Numeric GENERATORSTATUS values as the vendor protocol in the spec's sample reports them. */
const STATUS_CODE: Record<GeneratorStatus, string> = {
  GENERATOR_STATUS_STANDBY: '4',
  GENERATOR_STATUS_PREPARE: '5',
  GENERATOR_STATUS_READY: '6',
  GENERATOR_STATUS_EXPOSE: '7',
  GENERATOR_STATUS_COOLING: '8',
};

export interface GeneratorLimits {
  kv: [number, number];
  ma: [number, number];
  ms: [number, number];
  mas: [number, number];
  /** Largest kV × mA per focal spot (small, large), in kW: a 0.6/1.2 mm tube's 30/80 kW. */
  powerKw: [number, number];
  /** Anode heat capacity in heat units (kV × mAs for a high-frequency generator). */
  heatCapacityHu: number;
  /** Heat units shed per second when idle (anode cooling, simplified to a constant rate). */
  coolingHuPerSecond: number;
}

export const DEFAULT_LIMITS: GeneratorLimits = {
  kv: [40, 150],
  ma: [10, 1000],
  ms: [1, 10000],
  mas: [0.1, 1000],
  powerKw: [30, 80],
  heatCapacityHu: 300_000,
  coolingHuPerSecond: 1_500,
};

/** Tube heat above which the generator refuses to prepare until it has cooled. */
const HEAT_LOCK_FRACTION = 0.9;

/**
 * A simulated high-frequency X-ray generator: kV/mA/ms/mAs with their coupling (mAs = mA·ms),
 * range and power limits per focal spot, technique modes (3-point kV/mA/ms, 2-point kV/mAs),
 * anode heat that rises with each exposure and falls while idle, and the standby → prepare →
 * ready → expose → standby cycle of a real console's handswitch.
 */
export class GeneratorSimulator implements GeneratorDriver {
  readonly uri = 'DIOS/DEVICE/Generator';
  private open = false;
  private technique: Technique = { kv: 70, ma: 200, ms: 50, mas: 10, focus: 1 };
  private settings = { workstation: 1, techMode: 1, aecDensity: 0, aecField: 0, aecFilm: 0, expMode: 'Single' };
  private heatHu = 0;
  private heatAt = Date.now();
  private status: GeneratorStatus = GENERATOR_STATUS.STANDBY;
  exposures = 0;

  constructor(
    private readonly limits: GeneratorLimits = DEFAULT_LIMITS,
    private readonly clock: () => number = Date.now,
  ) {
    this.heatAt = clock();
  }

  connect(): Promise<void> {
    this.open = true;
    return Promise.resolve();
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Heat after idle cooling since the last change. */
  heat(): number {
    const now = this.clock();
    this.heatHu = Math.max(0, this.heatHu - ((now - this.heatAt) / 1000) * this.limits.coolingHuPerSecond);
    this.heatAt = now;
    return this.heatHu;
  }

  currentStatus(): GeneratorStatus {
    if (this.status === GENERATOR_STATUS.STANDBY && this.heat() > HEAT_LOCK_FRACTION * this.limits.heatCapacityHu)
      return GENERATOR_STATUS.COOLING;
    return this.status;
  }

  ready(): boolean {
    return this.open && [GENERATOR_STATUS.STANDBY, GENERATOR_STATUS.READY].includes(this.currentStatus() as 'GENERATOR_STATUS_STANDBY');
  }

  currentTechnique(): Technique {
    return { ...this.technique };
  }

  private maxMa(kv: number, focus: 0 | 1): number {
    return Math.min(this.limits.ma[1], Math.floor((this.limits.powerKw[focus] * 1000) / kv));
  }

  private check(name: string, value: number, [min, max]: [number, number]): number {
    if (!Number.isFinite(value) || value < min || value > max)
      throw new DeviceError('DEVICE_PARAM_RANGE', `${name} ${value} is outside ${min}–${max}`);
    return Math.round(value * 1000) / 1000;
  }

  /** Applies a technique after checking every limit; nothing changes when one fails. */
  setTechnique(next: Partial<Technique>): void {
    const t = { ...this.technique, ...next };
    t.kv = this.check('KV', t.kv, this.limits.kv);
    t.ma = this.check('MA', t.ma, [this.limits.ma[0], this.maxMa(t.kv, t.focus)]);
    if (next.mas !== undefined && next.ms === undefined) t.ms = (t.mas * 1000) / t.ma;
    t.ms = this.check('MS', t.ms, this.limits.ms);
    t.mas = this.check('MAS', (t.ma * t.ms) / 1000, this.limits.mas);
    this.technique = t;
  }

  private stepped(key: 'kv' | 'ma' | 'ms' | 'mas', direction: 1 | -1): void {
    const value = this.technique[key];
    const next = key === 'kv' ? value + direction : r10Step(value, direction);
    this.setTechnique({ [key]: next });
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the driver contract reports a refused action as a rejection; async turns the throws below into one
  async action(name: string, param: string): Promise<void> {
    const number = () => {
      const n = Number(param);
      if (param.trim() === '' || !Number.isFinite(n))
        throw new DeviceError('DEVICE_PARAM_RANGE', `${name} needs a number in reqParam, got ${JSON.stringify(param)}`);
      return n;
    };
    const choice = <T extends number | string>(allowed: readonly T[], value: T) => {
      if (!allowed.includes(value)) throw new DeviceError('DEVICE_PARAM_RANGE', `${name} must be one of ${allowed.join(', ')}`);
      return value;
    };
    const match = /^(Inc|Dec)Param_(KV|MA|MS|MAS)$/.exec(name);
    if (match) {
      this.stepped(match[2].toLowerCase() as 'kv', match[1] === 'Inc' ? 1 : -1);
      return;
    }
    switch (name) {
      case 'SetParam_KV': {
        this.setTechnique({ kv: number() });
        return;
      }
      case 'SetParam_MA': {
        this.setTechnique({ ma: number() });
        return;
      }
      case 'SetParam_MS': {
        this.setTechnique({ ms: number() });
        return;
      }
      case 'SetParam_MAS': {
        this.setTechnique({ mas: number() });
        return;
      }
      case 'SetParam_FOCUS': {
        this.setTechnique({ focus: choice([0, 1] as const, number() as 0 | 1) });
        return;
      }
      case 'SetParam_WORKSTATION':
        this.settings.workstation = choice([1, 2, 3, 4, 5], number());
        return;
      case 'SetParam_TECHMODE':
        this.settings.techMode = choice([0, 1, 2], number());
        return;
      case 'SetParam_AECDENSITY':
        this.settings.aecDensity = choice([-3, -2, -1, 0, 1, 2, 3], number());
        return;
      case 'SetParam_AECFIELD':
        this.settings.aecField = choice([0, 1, 2, 3, 4, 5, 6, 7], number());
        return;
      case 'SetParam_AECFILM':
        this.settings.aecFilm = choice([0, 1, 2], number());
        return;
      case 'SetParam_EXPMODE':
        this.settings.expMode = choice(['Single', 'Serial'], param);
        return;
      case 'ResetHeat':
        this.heatHu = 0;
        this.heatAt = this.clock();
        return;
      default:
        throw new DeviceError('DEVICE_ACTION_UNKNOWN', `${this.uri} has no action ${JSON.stringify(name)}`);
    }
  }

  /**
   * Runs one exposure (prepare, expose for the set time, back to standby) and returns the
   * technique actually delivered. Refused while hot, busy or closed.
   */
  async expose(
    wait: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ): Promise<Technique & { heatHu: number }> {
    if (!this.open) throw new DeviceError('DEVICE_NOT_READY', `${this.uri} is not open`);
    const status = this.currentStatus();
    if (status === GENERATOR_STATUS.COOLING)
      throw new DeviceError(
        'DEVICE_NOT_READY',
        `the tube is too hot (${Math.round((100 * this.heat()) / this.limits.heatCapacityHu)} % heat); wait for it to cool`,
      );
    if (status !== GENERATOR_STATUS.STANDBY && status !== GENERATOR_STATUS.READY)
      throw new DeviceError('DEVICE_NOT_READY', `${this.uri} is busy (${status})`);
    const delivered = { ...this.technique };
    const added = delivered.kv * delivered.mas;
    if (this.heat() + added > this.limits.heatCapacityHu)
      throw new DeviceError('DEVICE_NOT_READY', `the exposure would overheat the tube (${added} HU more)`);
    this.status = GENERATOR_STATUS.PREPARING;
    try {
      await wait(0);
      this.status = GENERATOR_STATUS.EXPOSING;
      await wait(Math.min(delivered.ms, 50)); // the simulated beam time, capped so tests stay quick
      this.heatHu = this.heat() + added;
      this.exposures += 1;
    } finally {
      this.status = GENERATOR_STATUS.STANDBY;
    }
    return { ...delivered, heatHu: this.heatHu };
  }

  /** The parameter map in the shape of the spec's device/get sample. */
  params(): DeviceParams {
    const t = this.technique;
    const num = (v: number) => v.toFixed(6);
    const pub = (key: string, value: string, range?: [number, number]) => ({
      Level: 'Public',
      DescKey: key,
      ...(range ? { min: range[0].toFixed(2), max: range[1].toFixed(2) } : {}),
      Value: value,
    });
    const status = this.currentStatus();
    return {
      IsDemo: pub('IsDemo', '1'),
      GENERATORSTATUS: pub('GENERATORSTATUS', STATUS_CODE[status]),
      GeneratorStatusName: pub('GeneratorStatusName', status),
      ErrorList: pub('ErrorList', status === GENERATOR_STATUS.COOLING ? 'TUBE_HEAT' : ''),
      TUBEHEAT: pub('TUBEHEAT', String(Math.round((100 * this.heat()) / this.limits.heatCapacityHu))),
      KV: pub('KV', num(t.kv), this.limits.kv),
      MA: pub('MA', num(t.ma), [this.limits.ma[0], this.maxMa(t.kv, t.focus)]),
      MS: pub('MS', num(t.ms), this.limits.ms),
      MAS: pub('MAS', num(t.mas), this.limits.mas),
      FOCUS: pub('FOCUS', String(t.focus)),
      WORKSTATION: pub('WORKSTATION', String(this.settings.workstation)),
      AECDENSITY: pub('AECDENSITY', String(this.settings.aecDensity)),
      AECFIELD: pub('AECFIELD', String(this.settings.aecField)),
      AECFILM: pub('AECFILM', String(this.settings.aecFilm)),
      TECHMODE: pub('TECHMODE', String(this.settings.techMode)),
      EXAMMODE: pub('EXAMMODE', 'MANUAL'),
      EXPMODE: pub('EXPMODE', this.settings.expMode),
      MaxPower: { Level: 'Private', DescKey: 'kV*mA', Value: String(this.limits.powerKw[t.focus]) },
      MaxHeatContent: { Level: 'Private', DescKey: 'kV*mAs', Value: String(this.limits.heatCapacityHu) },
      Manufacturer: pub('Manufacturer', 'Roentgen'),
      Model: pub('Model', 'Generator simulator'),
    };
  }
}
