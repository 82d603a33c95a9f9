// Worker threads do not inherit the parent's `--import tsx` loader on Node 20; this plain-JS
// entry registers tsx for the worker thread, then loads the TypeScript module named in
// workerData.entry (a file URL).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
