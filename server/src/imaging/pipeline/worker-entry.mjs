// Worker threads do not inherit the parent's `--import tsx` loader on Node 20; this plain-JS
// entry registers tsx for the worker thread, then loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
