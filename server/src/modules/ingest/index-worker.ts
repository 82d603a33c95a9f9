import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../../db/index.js';
import { setNodeCharsets, setSiteDefaultCharset } from '../../dicom/charsets.js';
import { FileBlobStore } from '../../storage/blob-store.js';
import { SqlArchiveRepository } from '../archive/repository.js';
import { Archive } from '../archive/service.js';
import { FilesRepository } from '../images/repository.js';
import { PacsRepository } from '../pacs/repository.js';
import { StudiesRepository } from '../studies/repository.js';
import { indexObjects } from './ingest-index.js';
import type { IndexRequest, IndexReply, IndexWorkerData } from './index-client.js';

// The ingest indexer's thread: its own database connection, the same blob store.
const settings = workerData as IndexWorkerData;
setSiteDefaultCharset(settings.defaultCharset);
const db = await openDatabase(settings);
const archiveRepository = new SqlArchiveRepository(new StudiesRepository(db), new FilesRepository(db));
const deps = { archive: new Archive(archiveRepository, new FileBlobStore(path.join(settings.dataDir, 'blobs')), settings.defaultProduct) };
const pacs = new PacsRepository(db);
const port = parentPort!;

port.on('message', (request: IndexRequest) => {
  if (request.close) {
    void db.close().finally(() => port.close());
    return;
  }
  // Node character sets may have changed since the last batch (one small query per batch).
  pacs
    .charsetsByAet()
    .then((byAet) => setNodeCharsets(byAet))
    .then(() => indexObjects(deps, request.entries))
    .then(
      (outcome) => port.postMessage({ id: request.id, outcome } satisfies IndexReply),
      (error: unknown) => port.postMessage({ id: request.id, error: (error as Error).message } satisfies IndexReply),
    );
});
port.postMessage({ id: 0 } satisfies IndexReply);
