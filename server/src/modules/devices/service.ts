import { AppError } from '../../util/errors.js';
import type { AuthUser } from '../auth/auth-user.js';
import { DeviceError, type DeviceDriver, type DeviceParams } from './driver.js';

/**
 * Who may act on the devices now. The exposure workflow implements it: while one console
 * session's inspection has the generator and detector loaded, another session's parameter change
 * would go into that patient's exposure. Declared here so devices need not know acquisition.
 */
export interface DeviceControlGuard {
  /** Throws (an AppError) when `user` may not run device actions now. */
  assertMayControlDevices(user: AuthUser): Promise<void>;
}

export class DeviceService {
  private readonly drivers = new Map<string, DeviceDriver>();

  constructor(
    drivers: DeviceDriver[],
    private readonly guard?: DeviceControlGuard,
  ) {
    for (const driver of drivers) this.drivers.set(driver.uri, driver);
  }

  private driver(uri: string): DeviceDriver {
    const driver = this.drivers.get(uri);
    if (driver) return driver;
    throw new AppError('DEVICE_NOT_FOUND', [{ field: 'deviceUri', message: `known devices: ${[...this.drivers.keys()].join(', ')}` }], uri);
  }

  async open(uri: string): Promise<void> {
    await this.driver(uri).connect();
  }

  /** The parameter map. A device is opened on first use, as a console's lazy connect does. */
  async get(uri: string): Promise<DeviceParams> {
    const driver = this.driver(uri);
    if (!driver.isOpen) await driver.connect();
    return driver.params();
  }

  /** Runs a device action (a parameter change, …) for `user`, if the guard lets that session act now. */
  async action(uri: string, name: string, param: string, user: AuthUser): Promise<void> {
    const driver = this.driver(uri);
    await this.guard?.assertMayControlDevices(user);
    if (!driver.isOpen) await driver.connect();
    try {
      await driver.action(name, param);
    } catch (error) {
      throw error instanceof DeviceError ? error.about('reqParam') : error;
    }
  }
}
