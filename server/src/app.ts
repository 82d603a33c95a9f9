import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import cookie from '@fastify/cookie';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { openBus, type Bus } from './bus/index.js';
import { attachBrokerTransports, guardBroker } from './bus/transports.js';
import type { Config } from './config.js';
import { openDatabase, type Db } from './db/index.js';
import { lockDataDir, preparePrivateDir } from './storage/data-dir.js';
import { migrateToLatest } from './db/migrate.js';
import { installAuthHooks } from './http/auth-hooks.js';
import { readClientHeaders, type RoentgenRoute } from './http/context.js';
import { clientErrorResponder, frameworkErrorResponder, installConnectionMemory } from './http/edge-errors.js';
import { installErrorHandling, installNotFoundHandler, sendError } from './http/error-handler.js';
import { installJsonBodyParser, installUrlHygiene } from './http/input-hygiene.js';
import { installSecurityHeaders } from './http/security-headers.js';
import { AppError } from './util/errors.js';
import { registerDrRoutes, type App } from './http/routing.js';
import { installValidation } from './http/validation.js';
import { requestLogFields } from './http/log-redaction.js';
import { FileBlobStore } from './storage/blob-store.js';
import { acquisitionRoutes } from './modules/acquisition/routes.js';
import { AcquisitionService, TOPIC_PROGRESS, TOPIC_STATUS } from './modules/acquisition/service.js';
import { ExposureWarmUp } from './modules/acquisition/warm-up.js';
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
import { setSiteDefaultCharset } from './dicom/charsets.js';
import { DimseServer } from './dimse/scp.js';
import { PacsService } from './modules/pacs/service.js';
import { CallingAePolicy } from './modules/pacs/admission.js';
import { EchoService } from './modules/worklist/echo.js';
import { DicomAudit } from './modules/ingest/dicom-audit.js';
import { DuplicateGuard } from './modules/ingest/duplicates.js';
import { GeneratorSimulator } from './modules/devices/generator-simulator.js';
import { DeviceService } from './modules/devices/service.js';
import { DetectorSimulator } from './modules/devices/detector-simulator.js';
import { SqlArchiveRepository } from './modules/archive/repository.js';
import { Archive } from './modules/archive/service.js';
import { DerivedImagesService } from './modules/images/derived-service.js';
import { ExportFolder } from './modules/images/export-folder.js';
import { RenderCache } from './modules/images/render-cache.js';
import { FilesRepository } from './modules/images/repository.js';
import { drImageRoutes, instanceRoutes } from './modules/images/routes.js';
import { ImageFilesService } from './modules/images/service.js';
import { UploadLimiter } from './modules/images/upload-limiter.js';
import { OrphanBlobs } from './modules/images/orphans.js';
import { installAuditHook } from './modules/audit/hook.js';
import { AuditRepository } from './modules/audit/repository.js';
import { ReadAuditor } from './modules/audit/reads.js';
import { auditRoutes } from './modules/audit/routes.js';
import { SqlReadSubjects } from './modules/audit/subjects.js';
import { SessionsRepository } from './modules/auth/repository.js';
import { drAuthRoutes, diagnosisAuthRoutes } from './modules/auth/routes.js';
import { randomHex, SecretsRepository } from './modules/auth/secrets.js';
import { loadSecretKey } from './modules/auth/secret-key.js';
import { AuthService } from './modules/auth/service.js';
import { TokenService } from './modules/auth/tokens.js';
import { RbacSeedRepository } from './modules/rbac/repository.js';
import { LoginBackoffRepository } from './modules/auth/backoff-repository.js';
import { LoginThrottle } from './modules/auth/login-backoff.js';
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
import { PatientFieldCrypto } from './modules/patients/field-crypto.js';
import { PatientReadAudit } from './modules/patients/read-audit.js';
import { PatientsRepository } from './modules/patients/repository.js';
import { patientRoutes } from './modules/patients/routes.js';
import { PatientsService } from './modules/patients/service.js';
import { UsersService } from './modules/users/service.js';
import { plannedDiagnosisRoutes, plannedDrRoutes } from './modules/planned/routes.js';
import { nodeId } from './util/node-id.js';

/** How long a stop waits for answers still being sent before it closes their connections. */
const SHUTDOWN_GRACE_MS = 5000;

export interface Server {
  app: App;
  db: Db;
  bus: Bus;
  /** Every registered route with its declared access (the route-table test walks these). */
  routes: { method: string; url: string; options: RoentgenRoute | undefined }[];
  /** Accounts this start created, with their initial passwords (to print once). */
  seeded: SeededAccounts;
  /** For in-process producers (the exposure pipeline) and tests that store images directly. */
  services: {
    imageFiles: ImageFilesService;
    acquisition: AcquisitionService;
    ingest: IngestService;
    jobs: JobRunner;
    exposureWarmUp: ExposureWarmUp;
  };
  /** Where our DICOM service (C-ECHO/C-STORE SCP, AE DICOM_AET) listens. */
  dicomPort: number;
  close(): Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function fastifyOptions(config: Config): FastifyServerOptions & { https?: { cert: Buffer; key: Buffer } } {
  return {
    // TLS_CERT/TLS_KEY: HTTPS directly (MQTT over WSS rides on the same server's /mqtt upgrade).
    ...(config.tls ? { https: { cert: config.tls.cert, key: config.tls.key } } : {}),
    logger:
      config.logLevel === 'silent'
        ? false
        : { level: config.logLevel, serializers: { req: (req: FastifyRequest) => requestLogFields(req) } },
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
    // Errors Fastify and Node's parser would answer on their own get the envelope and security headers too.
    frameworkErrors: frameworkErrorResponder(config.defaultProduct),
    clientErrorHandler: clientErrorResponder,
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
    // A handler still running after the limit gets a 504 in the envelope instead of a hung client;
    // never once headers are out (a stream being sent) or the client is gone.
    const timer = setTimeout(() => {
      if (!reply.sent && !reply.raw.headersSent && !reply.raw.destroyed) sendError(request, reply, 'TIMEOUT');
    }, config.requestTimeoutMs);
    timers.set(request, timer);
    // 'close' comes for every response, also when the client hung up mid-stream (onResponse does not).
    reply.raw.once('close', () => clearTimeout(timer));
  });
  app.addHook('onResponse', (request) => {
    clearTimeout(timers.get(request));
    return Promise.resolve();
  });
}

async function installPlugins(app: App, config: Config, configs: ConfigService, version: string): Promise<void> {
  // One header table for every response, the ones written outside Fastify included (http/security-headers.ts).
  installSecurityHeaders(app);
  installConnectionMemory(app);
  // JSON bodies: valid UTF-8, no duplicate keys, no lone surrogates; URLs: no control characters.
  installJsonBodyParser(app);
  installUrlHygiene(app);
  // The session cookie of the file routes (http/session-cookie.ts); the auth hook parses it itself.
  await app.register(cookie, { hook: false });
  // Multipart forms (post-processed pictures); each route sets its own file limits when it reads parts.
  await app.register(multipart, { limits: { fileSize: 64 * 1024 * 1024, files: 1, fields: 16, parts: 17 } });
  await app.register(rateLimit, {
    global: true,
    // onRequest: refused requests (400, 401, 403) spend the caller's budget like accepted ones.
    hook: 'onRequest',
    max: async () => configs.getNumber('security.rate_limit_per_minute').catch(() => config.rateLimitPerMinute),
    timeWindow: 60_000,
    // Guests share one account but each guest token is a session of its own, with its own bucket.
    keyGenerator: (request) => {
      const user = request.authUser;
      if (!user) return `ip:${request.ip}`;
      return user.isGuest ? `session:${user.sessionId}` : `user:${user.id}`;
    },
    errorResponseBuilder: () => new AppError('RATE_LIMITED'),
  });
  // Probing for routes spends the budget too.
  installNotFoundHandler(app, config.defaultProduct, app.rateLimit());
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
  setSiteDefaultCharset(config.dicomDefaultCharset);
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
    const sessions = new SessionsRepository(db);
    const loginThrottle = new LoginThrottle(new LoginBackoffRepository(db), configs);
    await loginThrottle.purge();
    const auth = new AuthService(usersRepository, sessions, new TokenService(jwtSecret), loginThrottle, configs);
    // Guest tokens minted under the old guest switches must not outlive them (docs/architecture.md, guest sessions).
    for (const key of ['auth.guest_enabled', 'auth.guest_allowed_addresses']) {
      configs.onChange(key, async (_key, value, previous) => {
        if (value !== previous) await auth.endGuestSessions('guest_settings_changed');
      });
    }
    const users = new UsersService(db, usersRepository);
    const stats = new StatsService(new StatsRepository(db), audit, config.dataDir);
    const jobs = new JobsRepository(db);
    const health = new HealthService(db, bus, configs, config.dataDir, build.version, jobs);
    await sessions.purgeEnded();
    // Every software_info call opens a guest session; ended ones are dropped hourly, not only at start.
    const purgeSessions = setInterval(() => void sessions.purgeEnded().catch(() => undefined), 3600_000);
    purgeSessions.unref();
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
      new RenderCache(config.renderCacheBytes, config.frameCacheBytes),
    );
    const equipment = {
      manufacturer: 'Roentgen',
      model: 'Roentgen DR console',
      stationName: os.hostname().slice(0, 16),
      softwareVersion: build.version.slice(0, 64),
    };
    const exportFolder = new ExportFolder(config.exportRoots, config.dataDir);
    configs.setValidator('export.directory', (value) => exportFolder.check(value));
    const derivedImages = new DerivedImagesService(
      imageFiles,
      studies,
      configs,
      equipment,
      config.uidRoot,
      exportFolder,
      new UploadLimiter(configs),
    );
    const recycleBin = new RecycleBinService(studiesRepository, blobs, config.dataDir);
    // Simulators are the default drivers until a deployment configures hardware ones.
    const generator = new GeneratorSimulator();
    const detector = new DetectorSimulator(config.detector.rows, config.detector.columns);
    const pipeline = new PipelineRunner();
    const pacsRepository = new PacsRepository(db);
    const pacsService = new PacsService(pacsRepository);
    await pacsService.refreshCharsets();
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
      sessionLive: async (id) => {
        const session = await sessions.get(id);
        return session !== undefined && session.revoked_at === null && Date.parse(session.expires_at) > Date.now();
      },
    });
    // Device actions ask the exposure workflow whether the caller's session may change them now.
    const devices = new DeviceService([generator, detector], acquisition);
    stats.register('patients', async (since) => (await studiesRepository.statistics(since)).patients);
    stats.register('studies', async (since) => (await studiesRepository.statistics(since)).studies);

    // With TLS the raw server is an https.Server; requests and replies are the same Node types, so one App type serves both.
    const app = (Fastify(fastifyOptions(config)) as unknown as App).withTypeProvider<TypeBoxTypeProvider>();
    // The first exposure after a start must not pay for starting the pipeline: readied once listening.
    const exposureWarmUp = new ExposureWarmUp({
      detector,
      pipeline,
      equipment,
      log: (level, message) => app.log[level](message),
      enabled: config.exposureWarmUp,
    });
    health.addService('exposure', () => exposureWarmUp.report());
    app.addHook('onListen', (done) => {
      exposureWarmUp.start();
      done();
    });
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
    installAuditHook(app, db, audit, new ReadAuditor(audit, new SqlReadSubjects(db)));
    await installPlugins(app, config, configs, build.version);

    diagnosisAuthRoutes(app, auth, users);
    userRoutes(app, users, usersRepository);
    const patients = new PatientsService(new PatientsRepository(db), await PatientFieldCrypto.open(secrets));
    patientRoutes(app, patients, new PatientReadAudit(audit));
    systemRoutes(app, { configs, stats, health, audit });
    auditRoutes(app, audit);
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
      pacsRoutes(scope, pacsService);
      worklistRoutes(
        scope,
        new WorklistService(configs, studies, config.dicomAet, config.dicomTimeoutMs, (address, port, aet) =>
          pacsRepository.charsetOf(address, port, aet),
        ),
        new EchoService(pacsRepository, configs, config.dicomTimeoutMs),
      );
      sendRoutes(scope, store);
      recycleBinRoutes(scope, recycleBin, studies);
      resourceRoutes(scope, { auth, configs, users: usersRepository, build, serial, drivers: { fpd: 'Simulator', gen: 'Simulator' } });
      plannedDrRoutes(scope);
    });
    await app.ready();
    logJobs = (message) => app.log.warn(message);
    const dicomAudit = new DicomAudit(audit, (message) => app.log.error(message));
    const ingest = new IngestService(
      new ThumbnailQueue(runner, thumbnailKind, logJobs),
      {
        databaseUrl: config.databaseUrl,
        databaseSchema: config.databaseSchema,
        dataDir: config.dataDir,
        defaultProduct: config.defaultProduct,
        defaultCharset: config.dicomDefaultCharset,
      },
      path.join(config.dataDir, 'ingest-journal'),
      {
        guard: new DuplicateGuard({ indexed: (uid) => archive.storedUnder(uid), readBlob: (key) => blobs.read(key) }),
        audit: (e) => dicomAudit.record(e),
      },
      (level, message) => app.log[level](message),
    );
    // Objects acknowledged by an earlier run and not indexed yet are indexed before new ones come in.
    receiving = () => ingest.receiving();
    await ingest.start();
    await runner.start();
    const callingAes = new CallingAePolicy(pacsRepository, configs);
    const dimse = new DimseServer({
      aet: config.dicomAet,
      admit: (peer) => callingAes.admit(peer),
      onRefusal: (refusal) => dicomAudit.record(refusal),
      onAssociationEnd: (summary) => dicomAudit.recordStores(summary),
      maxObjectBytes: () => configs.getNumber('dicom.max_object_bytes'),
      onStore: (object) => ingest.ingest(object),
      openSink: (header) => ingest.openSink(header),
    });
    const dicomPort = await dimse.listen(config.dicomPort, config.host);
    let closeTransports: () => Promise<void> = () => Promise.resolve();
    let stopGuard: () => void = () => undefined;
    if (bus.broker) {
      const guard = guardBroker(
        bus.broker,
        async (token) => {
          const outcome = await auth.authenticate(token);
          if (typeof outcome === 'string') return undefined;
          return {
            userId: outcome.id,
            sessionId: outcome.sessionId,
            expiresAt: outcome.tokenExpiresAt,
            isGuest: outcome.isGuest,
            seesAll: !outcome.isGuest && outcome.permissions.has('study:read'),
          };
        },
        { guestTopics: [TOPIC_STATUS, TOPIC_PROGRESS], clientRoot: 'MODULE', recheckMs: config.mqttRecheckMs },
      );
      auth.onSessionsEnded((ids) => guard.endSessions(ids));
      stopGuard = () => guard.stop();
      const tcp = config.mqttTcpPort === undefined ? undefined : { host: config.host, port: config.mqttTcpPort };
      closeTransports = await attachBrokerTransports(bus.broker, app.server, tcp);
    }
    return {
      app,
      db,
      bus,
      seeded,
      routes,
      services: { imageFiles, acquisition, ingest, jobs: runner, exposureWarmUp },
      dicomPort,
      async close() {
        exposureWarmUp.close();
        await acquisition.pending.catch(() => undefined);
        await runner.stop();
        await dimse.close();
        await ingest.close();
        await pipeline.close();
        await exposureWarmUp.finished();
        clearInterval(purgeSessions);
        stopGuard();
        await closeTransports();
        // A client that stopped reading a download keeps its connection busy indefinitely (the
        // request timer no longer fires once the answer has started): answers in flight get this
        // long, then whatever is left is cut, so a stop never hangs.
        const cut = setTimeout(() => app.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        await app.close();
        clearTimeout(cut);
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
