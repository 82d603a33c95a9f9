import { AppError } from '../../http/errors.js';

/**
 * The device layer's contract. A driver is addressed by a URI (`DIOS/DEVICE/Generator`), opened
 * once, read as a parameter map in the vendor shape the console expects (Level, DescKey, Value,
 * min/max) and driven by named actions (`IncParam_KV`, `SetParam_MAS` …). Simulators implement
 * it today; a serial or TCP driver for real hardware implements the same.
 */
export interface DeviceParam {
  Level: string;
  DescKey: string;
  Value: unknown;
  min?: string;
  max?: string;
}

export type DeviceParams = Record<string, DeviceParam>;

export interface DeviceDriver {
  readonly uri: string;
  readonly isOpen: boolean;
  connect(): Promise<void>;
  params(): DeviceParams;
  action(name: string, param: string): Promise<void>;
}

export type DeviceErrorName = 'DEVICE_PARAM_RANGE' | 'DEVICE_ACTION_UNKNOWN' | 'DEVICE_NOT_READY';

/** A driver's refusal; the service maps it to the error catalogue. */
export class DeviceError extends Error {
  constructor(readonly errorName: DeviceErrorName, message: string) {
    super(message);
  }
}

/** A driver's refusal as the catalogue's error (other errors pass through unchanged). */
export function asAppError(error: unknown, field?: string): unknown {
  if (!(error instanceof DeviceError)) return error;
  return new AppError(error.errorName, field ? [{ field, message: error.message }] : [], error.message);
}
