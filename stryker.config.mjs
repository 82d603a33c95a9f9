// Mutation testing of the code that guards data and access: `npm run mutate [group ...]`
// (scripts/mutate.mjs runs one Stryker pass per group). Not part of `npm test`: every mutant
// runs its group's test files, minutes each here. The command runner, because the suites are
// node:test files run through tsx (Stryker has no node:test runner); it cannot tell which test
// covers which mutant, so each group names the few test files that exercise its code.
// SQLite only: the PostgreSQL paths are the same services over another dialect.

/** Files to mutate and the tests that must catch their mutants. Add a group here when a module that guards data or access lands. */
export const GROUPS = {
  'recycle-bin': {
    mutate: ['server/src/modules/recycle-bin/service.ts', 'server/src/modules/studies/repository.ts'],
    tests: ['server/test/guards-studies.test.ts', 'server/test/studies.test.ts'],
  },
  files: {
    mutate: ['server/src/modules/images/service.ts', 'server/src/modules/images/routes.ts'],
    tests: ['server/test/guards-files.test.ts', 'server/test/images.test.ts'],
  },
  auth: {
    mutate: [
      'server/src/modules/auth/service.ts',
      'server/src/modules/auth/tokens.ts',
      'server/src/modules/auth/passwords.ts',
      'server/src/http/auth-hooks.ts',
      'server/src/modules/rbac/permissions.ts',
    ],
    tests: ['server/test/auth.test.ts', 'server/test/users.test.ts', 'server/src/modules/auth/passwords.test.ts'],
  },
  ingest: {
    mutate: [
      'server/src/storage/journal/ingest-journal.ts',
      'server/src/storage/journal/journal-writers.ts',
      'server/src/storage/journal/segment-log.ts',
      'server/src/modules/ingest/ingest.ts',
    ],
    tests: [
      'server/test/guards-journal-sync.test.ts',
      'server/src/storage/journal/ingest-journal.test.ts',
      'server/test/dicom-net-crash.test.ts',
    ],
  },
  'send-queue': {
    mutate: [
      'server/src/modules/dicom-send/store-job.ts',
      'server/src/modules/dicom-send/store-repository.ts',
      'server/src/modules/dicom-send/store-service.ts',
      'server/src/modules/jobs/runner.ts',
      'server/src/modules/jobs/repository.ts',
      'server/src/modules/jobs/kinds.ts',
    ],
    tests: ['server/test/guards-send.test.ts', 'server/test/dicom-net.test.ts', 'server/test/jobs.test.ts'],
  },
};

const name = process.env.ROENTGEN_MUTATE_GROUP ?? 'recycle-bin';
const group = GROUPS[name];
if (!group) throw new Error(`unknown mutation group ${name}; one of ${Object.keys(GROUPS).join(', ')}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'command',
  commandRunner: { command: `ROENTGEN_TEST_SQLITE_ONLY=1 node scripts/run-tests.mjs ${group.tests.join(' ')}` },
  coverageAnalysis: 'off',
  // Log and error texts and literal shapes are not what these groups guard; leaving them out
  // halves the mutants to run (recycle-bin: 534 → 260) without losing a guard. Static
  // (module-load) mutants stay: the command runner starts a fresh process per mutant anyway.
  mutator: { excludedMutations: ['StringLiteral', 'ObjectLiteral', 'ArrayDeclaration', 'Regex'] },
  mutate: group.mutate,
  // Two cores shared with other work: one mutant at a time, and a server start is slow.
  concurrency: 1,
  timeoutMS: 120_000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  tempDirName: '.stryker-tmp',
  // Only what the tests need goes into the sandbox.
  ignorePatterns: ['/data', '/reports', '/scratch', '/.tmp', '*.log'],
  cleanTempDir: true,
};
