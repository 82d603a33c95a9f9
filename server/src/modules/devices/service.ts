import { AppError } from '../../util/errors.js';
import { DeviceError, type DeviceDriver, type DeviceParams } from './driver.js';

export class DeviceService {
  private readonly drivers = new Map<string, DeviceDriver>();

  constructor(drivers: DeviceDriver[]) {
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

  async action(uri: string, name: string, param: string): Promise<void> {
    const driver = this.driver(uri);
    if (!driver.isOpen) await driver.connect();
    try {
      await driver.action(name, param);
    } catch (error) {
      throw error instanceof DeviceError ? error.about('reqParam') : error;
    }
  }
}
