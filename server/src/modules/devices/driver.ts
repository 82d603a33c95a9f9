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

/** A driver's refusal, named by its catalogue entry; the HTTP error handler answers it. */
export class DeviceError extends Error {
  constructor(
    readonly errorName: DeviceErrorName,
    message: string,
    /** The request input the refusal is about, when the caller knows it. */
    readonly field?: string,
  ) {
    super(message);
  }

  /** The same refusal, naming the request input it is about. */
  about(field: string): DeviceError {
    return new DeviceError(this.errorName, this.message, field);
  }
}
