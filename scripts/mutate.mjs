// `npm run mutate [group ...] [-- stryker options]`: one Stryker pass per group of
// stryker.config.mjs (all groups when none is named), each with its own test files.
import { spawnSync } from 'node:child_process';
import { GROUPS } from '../stryker.config.mjs';

const args = process.argv.slice(2);
const named = args.filter((a) => !a.startsWith('-') && a in GROUPS);
const passThrough = args.filter((a) => !named.includes(a));
let failed = false;
for (const group of named.length > 0 ? named : Object.keys(GROUPS)) {
  console.log(`\n== mutation group ${group}`);
  const run = spawnSync('npx', ['stryker', 'run', 'stryker.config.mjs', ...passThrough], {
    stdio: 'inherit',
    env: { ...process.env, ROENTGEN_MUTATE_GROUP: group },
  });
  failed ||= run.status !== 0;
}
process.exit(failed ? 1 : 0);
