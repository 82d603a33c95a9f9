// Mutation testing of the code that guards data and access: `npm run mutate [group ...]`
// (scripts/mutate.mjs runs one Stryker pass per group). Not part of `npm test`: every mutant
// runs its group's tests (a server start each), 20-60 s here. The command runner, because the
// suites are node:test files run through tsx (Stryker has no node:test runner); it cannot tell
// which test covers which mutant, so each group names the few tests that exercise its code.
// SQLite only: the PostgreSQL paths are the same services over another dialect.
//
// Each group mutates only the lines that guard (Stryker's `file:from-to` ranges), not the whole
// files: the modules mix guards with list queries, DR reply shaping and logging, and a whole-file
// pass was ~8-10 h of one core. The tests are narrowed the same way: `only` names the tests (or
// their describe blocks) to run, through node:test's --test-name-pattern, so a mutant costs one
// server start and the few tests that can catch it. Mutants to run (excluded mutators aside):
// send-queue 34, recycle-bin 27, files 37, auth 53, ingest 8: about an hour of one core on a
// quiet machine, run with `nice -n 10` beside other work.

/**
 * @typedef {object} Group
 * @property {string[]} mutate files or `file:from-to` line ranges to mutate
 * @property {string[]} tests test files that must catch their mutants
 * @property {string[]} [only] names (or describe names) of the tests to run in those files; all when absent
 */

/** Add a group (or a range) here when code that guards data or access lands or moves. @type {Record<string, Group>} */
export const GROUPS = {
  'recycle-bin': {
    mutate: [
      // Which studies a restore or purge may touch (binned ones only, each once), and that purge
      // deletes the files of exactly the purged rows, after the rows.
      'server/src/modules/recycle-bin/service.ts:39-60',
      'server/src/modules/studies/repository.ts:266-273',
    ],
    tests: ['server/test/guards-studies.test.ts', 'server/test/studies.test.ts'],
    only: ["purge keeps every other study's files", 'recycle bin on'],
  },
  files: {
    mutate: [
      // Who may read a study's files: a binned study's only with recycle:read, another session's
      // emergency study not at all (it does not exist for the caller).
      'server/src/modules/images/service.ts:69-79',
      // A file by name: anonymous only where an admin made the kind public, the name a lookup key
      // (never a path), a binned study's files no longer public, a private file only for its readers.
      'server/src/modules/images/service.ts:87-99',
    ],
    tests: ['server/test/guards-files.test.ts', 'server/test/images.test.ts'],
    // Not the traversal test of guards-files (thousands of requests, a minute a mutant here): the
    // name is a lookup key, so no mutant of these lines joins it into a path.
    only: [
      "a binned study's files",
      'serves them by name',
      'path traversal and guessed names',
      'a user without study:read',
      'the guest reads files of its own emergency study',
    ],
  },
  auth: {
    mutate: [
      // What an access token resolves to: refused unless the session is live, of the token's user,
      // at the account's token version (a password change or reset voids older tokens), the account active.
      'server/src/modules/auth/service.ts:197-198',
      'server/src/modules/auth/service.ts:216-224',
      // Before any handler: the guest scope and the route's permission.
      'server/src/http/auth-hooks.ts:40-46',
    ],
    tests: ['server/test/guards-access.test.ts', 'server/test/auth.test.ts'],
    only: [
      'route access on',
      'DR pub/login returns token',
      'logout revokes the access token',
      'expired, forged and malformed tokens',
      'changing your own password',
      'the guest token from software_info',
      'a disabled account stops working',
    ],
  },
  ingest: {
    mutate: [
      // A file of its own: every write waited for, then fsync, before finish() resolves (the acknowledgement).
      'server/src/storage/journal/journal-writers.ts:53-66',
      // A record: the segment it is written to is opened O_DSYNC, so the write returns durable.
      'server/src/storage/journal/segment-log.ts:222-226',
      // The SCP answers only after the journal made the object durable.
      'server/src/modules/ingest/ingest.ts:158-170',
    ],
    // Stryker has no statement-deletion mutator: "no fsync before the acknowledgement" is not one of
    // its mutants. guards-journal-sync catches that defect by watching the calls (a hand-made mutant).
    tests: ['server/test/guards-journal-sync.test.ts', 'server/src/storage/journal/ingest-journal.test.ts'],
  },
  'send-queue': {
    mutate: [
      // A C-STORE outcome: success is sent, out of resources is retried, any other status fails;
      // association errors retried unless permanent; the image's send_status follows the end.
      'server/src/modules/dicom-send/store-job.ts:81-98',
      'server/src/modules/dicom-send/store-job.ts:109-113',
      // The retry schedule: doubling from the base, capped at the max.
      'server/src/modules/jobs/kinds.ts:10-12',
    ],
    tests: ['server/test/guards-send.test.ts', 'server/test/jobs.test.ts', 'server/test/dicom-net.test.ts'],
    only: [
      'retry delay schedule',
      'send queue against a peer that refuses objects',
      // An association that fails: retried when the peer is down, failed when it rejects us.
      'peer down: the task retries',
      'a refusing peer fails the task',
      'back-off doubles',
      'a failing job is retried',
      'retry() schedules',
      // Not jobs.test's "each kind runs at most its concurrency": its progress check is bound to
      // timing and fails under load, which would count mutants as killed by chance.
    ],
  },
};

const name = process.env.ROENTGEN_MUTATE_GROUP ?? 'recycle-bin';
const group = GROUPS[name];
if (!group) throw new Error(`unknown mutation group ${name}; one of ${Object.keys(GROUPS).join(', ')}`);

/** node:test's --test-name-pattern is a regular expression: the names are matched literally. */
const namePattern = group.only && group.only.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
const testCommand = [
  'ROENTGEN_TEST_SQLITE_ONLY=1 node --import tsx --test --test-concurrency=2',
  // In single quotes for the shell, a quote in a name closed, escaped and reopened.
  namePattern ? `'--test-name-pattern=${namePattern.replaceAll("'", "'\\''")}'` : '',
  ...group.tests,
]
  .filter(Boolean)
  .join(' ');

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'command',
  commandRunner: { command: testCommand },
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
