/**
 * The environment benches give a server process they start as `npm start` does: loopback only,
 * the given port and data directory, known passwords, DICOM on a free port, warnings only, and a
 * rate limit out of the way of the benches' many clients.
 */
export function benchServerEnv(dataDir: string, port: number, password: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ROENTGEN_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: String(port),
    DICOM_PORT: '0',
    LOG_LEVEL: 'warn',
    ROENTGEN_ADMIN_PASSWORD: password,
    ROENTGEN_SEED_USER_PASSWORD: password,
    RATE_LIMIT_PER_MINUTE: '1000000',
  };
}
