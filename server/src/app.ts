import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import multipart from '@fastify/multipart';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyServerOptions } from 'fastify';
import { openBus, type Bus } from './bus/index.js';
import { attachBrokerTransports, guardBroker } from './bus/transports.js';
import type { Config } from './config.js';
import { openDatabase, type Db } from './db/index.js';
import { lockDataDir, preparePrivateDir } from './storage/data-dir.js';
import { migrateToLatest } from './db/migrate.js';
import { installAuthHooks } from './http/auth-hooks.js';
import { readClientHeaders, type RoentgenRoute } from './http/context.js';
import { installErrorHandling, sendError } from './http/error-handler.js';
import { AppError } from './util/errors.js';
import { registerDrRoutes, type App } from './http/routing.js';
import { installValidation } from './http/validation.js';
import { FileBlobStore } from './storage/blob-store.js';
import { acquisitionRoutes } from './modules/acquisition/routes.js';
import { AcquisitionService } from './modules/acquisition/service.js';
import { PipelineRunner } from './imaging/pipeline/runner.js';
import { deviceRoutes } from './modules/devices/routes.js';
import { PacsRepository } from './modules/pacs/repository.js';
import { pacsRoutes } from './modules/pacs/routes.js';
import { worklistRoutes } from './modules/worklist/routes.js';
import { sendRoutes } from './modules/dicom-send/routes.js';
import { StoreTaskRepository } from './modules/dicom-send/store-repository.js';
import { StoreService } from './modules/dicom-send/store-service.js';
import { storeJobKind } from './modules/dicom-send/store-job.js';
import { thumbnailJobKind, ThumbnailQueue } from './modules/ingest/thumbnail-job.js';
import { JobsRepository } from './modules/jobs/repository.js';
import { JobRunner } from './modules/jobs/runner.js';
import { IngestService } from './modules/ingest/ingest.js';
import { WorklistService } from './modules/worklist/worklist.js';
import { DimseServer } from './dimse/scp.js';
import { PacsService } from './modules/pacs/service.js';
import { GeneratorSimulator } from './modules/devices/generator-simulator.js';
import { DeviceService } from './modules/devices/service.js';
import { DetectorSimulator } from './modules/devices/detector-simulator.js';
import { SqlArchiveRepository } from './modules/archive/repository.js';
import { Archive } from './modules/archive/service.js';
import { DerivedImagesService } from './modules/images/derived-service.js';
import { RenderCache } from './modules/images/render-cache.js';
import { FilesRepository } from './modules/images/repository.js';
import { drImageRoutes, instanceRoutes } from './modules/images/routes.js';
import { ImageFilesService } from './modules/images/service.js';
import { UploadLimiter } from './modules/images/upload-limiter.js';
import { OrphanBlobs } from './modules/images/orphans.js';
import { installAuditHook } from './modules/audit/hook.js';
import { AuditRepository } from './modules/audit/repository.js';
import { RevokedTokensRepository } from './modules/auth/repository.js';
import { drAuthRoutes, diagnosisAuthRoutes } from './modules/auth/routes.js';
import { randomHex, SecretsRepository } from './modules/auth/secrets.js';
import { loadSecretKey } from './modules/auth/secret-key.js';
import { AuthService } from './modules/auth/service.js';
import { TokenService } from './modules/auth/tokens.js';
import { RbacSeedRepository } from './modules/rbac/repository.js';
import { seedRbac, type SeededAccounts } from './modules/rbac/seed.js';
import { ProtocolRepository } from './modules/protocols/repository.js';
import { protocolRoutes } from './modules/protocols/routes.js';
import { ProtocolService } from './modules/protocols/service.js';
import { recycleBinRoutes } from './modules/recycle-bin/routes.js';
import { RecycleBinService } from './modules/recycle-bin/service.js';
import { readBuildInfo } from './modules/resource/build-info.js';
import { StudiesRepository } from './modules/studies/repository.js';
import { studyRoutes } from './modules/studies/routes.js';
import { StudiesService } from './modules/studies/service.js';
import { resourceRoutes } from './modules/resource/routes.js';
import { ConfigRepository } from './modules/system/config-repository.js';
import { ConfigService } from './modules/system/config-service.js';
import { HealthService } from './modules/system/health-service.js';
import { systemRoutes } from './modules/system/routes.js';
import { StatsRepository } from './modules/system/stats-repository.js';
import { StatsService } from './modules/system/stats-service.js';
import { UsersRepository } from './modules/users/repository.js';
import { userRoutes } from './modules/users/routes.js';
import { UsersService } from './modules/users/service.js';
import { plannedDiagnosisRoutes, plannedDrRoutes } from './modules/planned/routes.js';
import { nodeId } from './util/node-id.js';

export interface Server {
  app: App;
  db: Db;
  bus: Bus;
  /** Every registered route with its declared access (the route-table test walks these). */
  routes: { method: string; url: string; options: RoentgenRoute | undefined }[];
  /** Accounts this start created, with their initial passwords (to print once). */
  seeded: SeededAccounts;
  /** For in-process producers (the exposure pipeline) and tests that store images directly. */
  services: { imageFiles: ImageFilesService; acquisition: AcquisitionService; ingest: IngestService; jobs: JobRunner };
  /** Where our DICOM service (C-ECHO/C-STORE SCP, AE DICOM_AET) listens. */
  dicomPort: number;
  close(): Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function fastifyOptions(config: Config): FastifyServerOptions {
  return {
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
    bodyLimit: config.bodyLimitBytes,
    requestTimeout: config.requestTimeoutMs,
    requestIdHeader: false,
    // The spec writes list routes both ways (`study/` and `study`).
    // Long path parameters reach the route's schema (an envelope error) instead of the router's bare 414.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 2048 },
    // X-Request-ID is honoured when it is a sane token, so clients can correlate; otherwise we make one.
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      const value = Array.isArray(incoming) ? incoming[0] : incoming;
      return value && REQUEST_ID.test(value) ? value : `req_${randomUUID().replace(/-/g, '')}`;
    },
    ajv: { customOptions: { allErrors: true } },
  };
}

function installRequestBasics(app: App, config: Config): void {
  app.decorateRequest('language', 'zh_CN');
  app.decorateRequest('product', 'DROS');
  app.decorateRequest('source', 'Browser');
  app.decorateRequest('authUser', undefined);
  app.decorateRequest('authFailure', undefined);
  app.decorateRequest('auditInfo', undefined);
  const timers = new WeakMap<object, NodeJS.Timeout>();
  app.addHook('onRequest', async (request, reply) => {
    readClientHeaders(request, config.defaultProduct);
    reply.header('X-Request-ID', request.id);
    // A handler still running after the limit gets a 504 in the envelope instead of a hung client.
    timers.set(
      request,
      setTimeout(() => {
        if (!reply.sent) sendError(request, reply, 'TIMEOUT');
      }, config.requestTimeoutMs),
    );
  });
  app.addHook('onResponse', (request) => {
    clearTimeout(timers.get(request));
    return Promise.resolve();
  });
}

async function installPlugins(app: App, config: Config, configs: ConfigService, version: string): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'self'"], imgSrc: ["'self'", 'data:'], styleSrc: ["'self'", "'unsafe-inline'"] },
    },
    frameguard: { action: 'deny' },
    hsts: { maxAge: 31_536_000, includeSubDomains: true, preload: false },
    xXssProtection: false,
    crossOriginEmbedderPolicy: false,
  });
  // Multipart forms (post-processed pictures); each route sets its own file limits when it reads parts.
  await app.register(multipart, { limits: { fileSize: 64 * 1024 * 1024, files: 1, fields: 16 } });
  // The spec's header list asks for the legacy XSS filter on; helmet only offers "0".
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('X-XSS-Protection', '1; mode=block');
  });
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: async () => configs.getNumber('security.rate_limit_per_minute').catch(() => config.rateLimitPerMinute),
    timeWindow: 60_000,
    keyGenerator: (request) => (request.authUser ? `user:${request.authUser.id}` : `ip:${request.ip}`),
    errorResponseBuilder: () => new AppError('RATE_LIMITED'),
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'Roentgen API', version, description: 'DR console (/dr/api/v1, /api/v1) and diagnosis (/api/v1) faces' },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}

export async function createServer(config: Config): Promise<Server> {
  // One process per data directory: the lock is taken before anything in it is touched.
  preparePrivateDir(config.dataDir);
  const lock = lockDataDir(config.dataDir);
  const db = await openDatabase(config).catch((error: unknown) => {
    lock.release();
    throw error;
  });
  let bus: Bus | undefined;
  try {
    await migrateToLatest(db);
    const configs = new ConfigService(new ConfigRepository(db), config);
    await configs.seed();
    const seeded = await seedRbac(new RbacSeedRepository(db), { admin: config.adminPassword, others: config.seedUserPassword });
    const secrets = new SecretsRepository(db, loadSecretKey(config));
    await secrets.sealClearValues();
    const jwtSecret = config.jwtSecret ?? (await secrets.getOrCreate('jwt_secret', () => randomHex(32)));
    const serialHex = await secrets.getOrCreate('installation_id', () => randomHex(16));
    const serial = serialHex.match(/.{8}/g)?.join('-') ?? serialHex;
    bus = await openBus(config.mqttUrl);
    const build = readBuildInfo();

    const usersRepository = new UsersRepository(db);
    const audit = new AuditRepository(db);
    const revoked = new RevokedTokensRepository(db);
    const auth = new AuthService(usersRepository, revoked, new TokenService(jwtSecret), configs);
    const users = new UsersService(db, usersRepository);
    const stats = new StatsService(new StatsRepository(db), audit, config.dataDir);
    const jobs = new JobsRepository(db);
    const health = new HealthService(db, bus, configs, config.dataDir, build.version, jobs);
    await revoked.purgeExpired();
    const protocolRepository = new ProtocolRepository(db);
    await protocolRepository.seed('DROS');
    await protocolRepository.seed('VETDROS');
    const protocols = new ProtocolService(protocolRepository);
    const studiesRepository = new StudiesRepository(db);
    const blobs = new FileBlobStore(path.join(config.dataDir, 'blobs'));
    // The data-directory lock proves no other process is writing: every temporary file is a dead write's,
    // and a blob with no row (reconciled before the ingest adopts anything) one whose registration never committed.
    const orphans = new OrphanBlobs(blobs, new FilesRepository(db), configs);
    orphans.sweptTemporary(await blobs.sweepTemporary());
    await orphans.reconcile();
    health.addStorageFigure('orphan_blobs', () => orphans.last());
    const studies = new StudiesService(studiesRepository, protocolRepository, config.uidRoot, blobs);
    const filesRepository = new FilesRepository(db);
    const archive = new Archive(new SqlArchiveRepository(studiesRepository, filesRepository), blobs, config.defaultProduct);
    const imageFiles = new ImageFilesService(
      filesRepository,
      studiesRepository,
      studies,
      archive,
      blobs,
      configs,
      new RenderCache(config.renderCacheBytes),
    );
    const equipment = {
      manufacturer: 'Roentgen',
      model: 'Roentgen DR console',
      stationName: os.hostname().slice(0, 16),
      softwareVersion: build.version.slice(0, 64),
    };
    const derivedImages = new DerivedImagesService(
      imageFiles,
      studies,
      configs,
      equipment,
      config.uidRoot,
      config.dataDir,
      new UploadLimiter(configs),
    );
    const recycleBin = new RecycleBinService(studiesRepository, blobs, config.dataDir);
    // Simulators are the default drivers until a deployment configures hardware ones.
    const generator = new GeneratorSimulator();
    const detector = new DetectorSimulator(config.detector.rows, config.detector.columns);
    const devices = new DeviceService([generator, detector]);
    const pipeline = new PipelineRunner();
    const pacsRepository = new PacsRepository(db);
    // One runner for every kind of background job; STORE_POLL_MS has set how often it looks.
    let logJobs: (message: string) => void = () => undefined;
    const runner = new JobRunner(jobs, { node: nodeId(config.dataDir), pollMs: config.storeQueue.pollMs, log: (m) => logJobs(m) });
    const storeKind = storeJobKind(pacsRepository, studiesRepository, imageFiles, {
      ...config.storeQueue,
      callingAetFallback: config.dicomAet,
      timeoutMs: config.dicomTimeoutMs,
    });
    runner.register(storeKind);
    // Thumbnails of received objects wait while the SCP receives (the ingest is made below).
    let receiving = () => false;
    const thumbnailKind = thumbnailJobKind(archive, runner, () => receiving());
    runner.register(thumbnailKind);
    const store = new StoreService(new StoreTaskRepository(jobs), pacsRepository, studiesRepository, studies, runner, storeKind);
    const acquisition = new AcquisitionService({
      studies,
      studiesRepo: studiesRepository,
      protocols: protocolRepository,
      files: imageFiles,
      generator,
      detector,
      bus,
      equipment,
      uidRoot: config.uidRoot,
      pipeline,
      onAccepted: async (image) => {
        if (await configs.getBoolean('pacs.auto_send')) await store.autoSend(image);
      },
    });
    stats.register('patients', async (since) => (await studiesRepository.statistics(since)).patients);
    stats.register('studies', async (since) => (await studiesRepository.statistics(since)).studies);

    const app = Fastify(fastifyOptions(config)).withTypeProvider<TypeBoxTypeProvider>();
    const routes: Server['routes'] = [];
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) {
        routes.push({ method, url: route.url, options: route.config?.roentgen });
      }
    });
    installValidation(app);
    installErrorHandling(app, config.defaultProduct);
    installRequestBasics(app, config);
    installAuthHooks(app, auth);
    installAuditHook(app, audit);
    await installPlugins(app, config, configs, build.version);

    diagnosisAuthRoutes(app, auth, users);
    userRoutes(app, users, usersRepository);
    systemRoutes(app, { configs, stats, health, audit });
    instanceRoutes(app, imageFiles);
    plannedDiagnosisRoutes(app);
    const busForClose = bus;
    await registerDrRoutes(app, (scope) => {
      drAuthRoutes(scope, auth);
      protocolRoutes(scope, protocols);
      studyRoutes(scope, studies);
      drImageRoutes(scope, imageFiles, derivedImages);
      deviceRoutes(scope, devices);
      acquisitionRoutes(scope, acquisition);
      pacsRoutes(scope, new PacsService(pacsRepository));
      worklistRoutes(scope, new WorklistService(configs, studies, config.dicomAet, config.dicomTimeoutMs), config.dicomTimeoutMs);
      sendRoutes(scope, store);
      recycleBinRoutes(scope, recycleBin, studies);
      resourceRoutes(scope, { auth, configs, users: usersRepository, build, serial, drivers: { fpd: 'Simulator', gen: 'Simulator' } });
      plannedDrRoutes(scope);
    });
    await app.ready();
    logJobs = (message) => app.log.warn(message);
    const ingest = new IngestService(
      new ThumbnailQueue(runner, thumbnailKind, logJobs),
      {
        databaseUrl: config.databaseUrl,
        databaseSchema: config.databaseSchema,
        dataDir: config.dataDir,
        defaultProduct: config.defaultProduct,
      },
      path.join(config.dataDir, 'ingest-journal'),
      (level, message) => app.log[level](message),
    );
    // Objects acknowledged by an earlier run and not indexed yet are indexed before new ones come in.
    receiving = () => ingest.receiving();
    await ingest.start();
    await runner.start();
    const dimse = new DimseServer({
      aet: config.dicomAet,
      allowedCallingAets: async () =>
        (await configs.getString('dicom.scp_allowed_aets'))
          .split(',')
          .map((a) => a.trim())
          .filter(Boolean),
      onStore: (object) => ingest.ingest(object),
      openSink: (header) => ingest.openSink(header),
    });
    const dicomPort = await dimse.listen(config.dicomPort, config.host);
    let closeTransports: () => Promise<void> = () => Promise.resolve();
    if (bus.broker) {
      guardBroker(bus.broker, async (token) => {
        const outcome = await auth.authenticate(token);
        return typeof outcome === 'string' ? undefined : outcome.id;
      });
      const tcp = config.mqttTcpPort === undefined ? undefined : { host: config.host, port: config.mqttTcpPort };
      closeTransports = await attachBrokerTransports(bus.broker, app.server, tcp);
    }
    return {
      app,
      db,
      bus,
      seeded,
      routes,
      services: { imageFiles, acquisition, ingest, jobs: runner },
      dicomPort,
      async close() {
        await acquisition.pending.catch(() => undefined);
        await runner.stop();
        await dimse.close();
        await ingest.close();
        await pipeline.close();
        await closeTransports();
        await app.close();
        await busForClose.close();
        await db.close();
        lock.release();
      },
    };
  } catch (error) {
    await bus?.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    lock.release();
    throw error;
  }
}
