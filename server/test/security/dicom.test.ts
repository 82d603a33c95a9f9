import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { STATUS } from '../../src/dimse/command.js';
import { DimseError, Association, VERIFICATION, EXPLICIT_LE } from '../../src/dimse/scu.js';
import { storeFiles, type StoreOutcome } from '../../src/dimse/store-scu.js';
import { readDicom, readMetaHeader } from '../../src/dicom/reader.js';
import { TAGS } from '../../src/dicom/tags.js';
import { generateUid } from '../../src/util/uid.js';
import { dxFor } from '../dicom-helpers.js';
import { createServer } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { DIALECTS, call, createUser, dropSchema, freePort, isDrError, isolatedEnv, until, withServer } from '../helpers.js';

// Issue 15, findings 2 (anyone who reaches the DICOM port can replace a stored image) and 10
// (scp/echo as a port scanner), through the public interfaces: DICOM with our SCU, and HTTP.

/** A patient and study for an object sent to us; `name` is what the attack changes. */
function objectFor(uid: string, name: string, study = generateUid(), series = generateUid()): Buffer {
  return dxFor(uid, {
    patient: { id: `PID-${uid.slice(-8)}`, name, birthDate: '19700101', sex: 'F', age: '055Y' },
    study: { instanceUid: study, id: 'EXT', accessionNumber: '', referringPhysician: '', date: new Date(2025, 0, 2) },
    series: { instanceUid: series, number: 1, description: 'Chest PA' },
  });
}

/** A TCP server that greets every connection with a banner (an SSH server, say) and keeps it open. */
async function bannerServer(banner: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.write(banner);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

for (const dialect of DIALECTS) {
  describe(`security: DICOM access control and echo on ${dialect}`, () => {
    const ctx = withServer(dialect, { DICOM_TIMEOUT_MS: '1500' });
    const dr = (method: string, path: string, body?: unknown, token?: string) =>
      call(ctx.t.url, method, `/dr/api/v1/auth/${path}`, { token: token ?? ctx.admin, body });
    const setConfig = async (key: string, value: unknown) => {
      const res = await call(ctx.t.url, 'PUT', `/api/v1/system/configs/${key}`, { token: ctx.admin, body: { config_value: value } });
      assert.equal(res.status, 200, res.text);
    };
    const send = (callingAet: string, objects: Buffer[]): Promise<StoreOutcome[]> =>
      storeFiles({ host: '127.0.0.1', port: ctx.t.server.dicomPort, callingAet, calledAet: 'ROENTGEN' }, objects, () => undefined);
    const aet = () => `M${randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase()}`;
    async function addNode(over: Record<string, unknown>): Promise<{ id: number; name: string }> {
      const name = `node${randomUUID().slice(0, 8)}`;
      const res = await dr('POST', 'manage/pacs', {
        name,
        type: 'PACS',
        address: '127.0.0.1',
        port: 104,
        aet: aet(),
        aec: 'ROENTGEN',
        is_enabled: true,
        is_default: false,
        ...over,
      });
      assert.equal(res.status, 200, res.text);
      return { id: res.body.data.id as number, name };
    }
    const indexedImage = (uid: string) =>
      ctx.t.server.db.kysely.selectFrom('images').select(['id', 'study_pk']).where('sop_instance_uid', '=', uid).executeTakeFirst();
    const auditRows = (action: string, resourceId: string) =>
      ctx.t.server.db.kysely
        .selectFrom('audit_logs')
        .selectAll()
        .where('action', '=', action)
        .where('resource_id', '=', resourceId)
        .execute();

    test('finding 2: an unknown calling AE is rejected at association (calling AE title not recognized) and audited', async () => {
      const uid = generateUid();
      await assert.rejects(
        send('EVIL', [objectFor(uid, 'Mallory^Evil')]),
        (e: unknown) => e instanceof DimseError && e.kind === 'rejected' && /calling AE title not recognized/.test(e.message),
      );
      await ctx.t.server.services.ingest.drain();
      assert.equal(await indexedImage(uid), undefined, 'nothing was stored');
      const [row] = await auditRows('dicom.association.rejected', 'EVIL');
      assert.ok(row, 'the rejection is in the audit log');
      assert.equal(row.source, 'dicom');
      assert.equal(row.ip, '127.0.0.1');
      assert.equal(row.outcome, 'failure');
      assert.equal(JSON.parse(row.detail!).calling_aet, 'EVIL');
    });

    test('a configured node stores; its AE title from another address is rejected; the allow-list admits AET and AET@address', async () => {
      const plainNode = await addNode({});
      const defaults = (await dr('GET', 'manage/pacs')).body.data.scp.find((n: { id: number }) => n.id === plainNode.id);
      assert.deepEqual(
        [defaults.may_store, defaults.may_query, defaults.may_retrieve],
        [false, false, false],
        'the defaults of a new node',
      );
      const node = await addNode({ may_store: true });
      const listed = (await dr('GET', 'manage/pacs')).body.data.scp.find((n: { id: number }) => n.id === node.id);
      const nodeAet = listed.aet as string;
      const uid = generateUid();
      const [outcome] = await send(nodeAet, [objectFor(uid, 'Known^Node')]);
      assert.equal(outcome.status, STATUS.SUCCESS, outcome.comment);
      await ctx.t.server.services.ingest.drain();
      assert.ok(await indexedImage(uid));

      const elsewhere = await addNode({ address: '10.11.12.13', may_store: true });
      const elsewhereAet = (await dr('GET', 'manage/pacs')).body.data.scp.find((n: { id: number }) => n.id === elsewhere.id).aet;
      await assert.rejects(send(elsewhereAet, [objectFor(generateUid(), 'Wrong^Address')]), (e: unknown) => e instanceof DimseError);

      const [plain, bound, boundElsewhere] = [aet(), aet(), aet()];
      await setConfig('dicom.scp_allowed_aets', `${plain}, ${bound}@127.0.0.1, ${boundElsewhere}@10.0.0.9`);
      try {
        assert.equal((await send(plain, [objectFor(generateUid(), 'Listed^Plain')]))[0].status, STATUS.SUCCESS);
        assert.equal((await send(bound, [objectFor(generateUid(), 'Listed^Bound')]))[0].status, STATUS.SUCCESS);
        await assert.rejects(send(boundElsewhere, [objectFor(generateUid(), 'Listed^Elsewhere')]), (e: unknown) => e instanceof DimseError);
      } finally {
        await setConfig('dicom.scp_allowed_aets', '');
      }
    });

    test('a node without may_store may echo but its C-STOREs are refused (0x0124 Not authorized) and audited', async () => {
      const node = await addNode({ may_store: false });
      const nodeAet = (await dr('GET', 'manage/pacs')).body.data.scp.find((n: { id: number }) => n.id === node.id).aet as string;
      const echoed = await Association.run(
        {
          host: '127.0.0.1',
          port: ctx.t.server.dicomPort,
          callingAet: nodeAet,
          calledAet: 'ROENTGEN',
          contexts: [{ abstractSyntax: VERIFICATION, transferSyntaxes: [EXPLICIT_LE] }],
        },
        (a) => a.echo(),
      );
      assert.equal(echoed, STATUS.SUCCESS);
      const uid = generateUid();
      const [outcome] = await send(nodeAet, [objectFor(uid, 'No^Store')]);
      assert.equal(outcome.status, STATUS.NOT_AUTHORIZED);
      await ctx.t.server.services.ingest.drain();
      assert.equal(await indexedImage(uid), undefined);
      assert.equal((await auditRows('dicom.store.not_authorized', uid)).length, 1);

      // Switched on by an operator: the same node stores.
      const row = (await dr('GET', 'manage/pacs')).body.data.scp.find((n: { id: number }) => n.id === node.id);
      const body: Record<string, unknown> = { ...row };
      delete body.id;
      assert.equal((await dr('PUT', `manage/pacs/${node.id}`, { ...body, may_store: true })).status, 200);
      assert.equal((await send(nodeAet, [objectFor(uid, 'No^Store')]))[0].status, STATUS.SUCCESS);
      // A change that leaves the flags out (the spec's body) keeps them.
      const spec = { ...body };
      delete spec.may_store;
      delete spec.may_query;
      delete spec.may_retrieve;
      assert.equal((await dr('PUT', `manage/pacs/${node.id}`, spec)).status, 200);
      const after = (await dr('GET', 'manage/pacs')).body.data.scp.find((n: { id: number }) => n.id === node.id);
      assert.equal(after.may_store, true);
    });

    test('accept-any (off by default) admits unknown AEs while on, and health warns meanwhile', async () => {
      const health = async () => (await call(ctx.t.url, 'GET', '/api/v1/system/health', { token: ctx.admin })).body.data;
      assert.equal((await health()).services.dicom.accept_any_calling_ae, false);
      const stranger = aet();
      await assert.rejects(send(stranger, [objectFor(generateUid(), 'Any^One')]), (e: unknown) => e instanceof DimseError);
      await setConfig('dicom.scp_accept_any_aet', true);
      try {
        const report = await health();
        assert.equal(report.services.dicom.status, 'degraded');
        assert.match(report.services.dicom.warning, /dicom\.scp_accept_any_aet/);
        assert.notEqual(report.status, 'healthy');
        assert.equal((await send(stranger, [objectFor(generateUid(), 'Any^One')]))[0].status, STATUS.SUCCESS);
      } finally {
        await setConfig('dicom.scp_accept_any_aet', false);
      }
      assert.equal((await health()).services.dicom.status, 'healthy');
      await assert.rejects(send(stranger, [objectFor(generateUid(), 'Any^One')]), (e: unknown) => e instanceof DimseError);
    });

    test('finding 2: the same SOP Instance UID with another patient is refused, the file and the rows stay the original, audited', async () => {
      const node = await addNode({ may_store: true });
      const nodeAet = (await dr('GET', 'manage/pacs')).body.data.scp.find((n: { id: number }) => n.id === node.id).aet as string;
      const uid = generateUid();
      const original = objectFor(uid, 'Original^Patient');
      assert.equal((await send(nodeAet, [original]))[0].status, STATUS.SUCCESS);
      await ctx.t.server.services.ingest.drain();
      const image = (await indexedImage(uid))!;

      // Indexed already: refused from the index; acknowledged and not yet indexed: refused from the journal.
      const forged = objectFor(uid, 'Mallory^Evil');
      const pendingUid = generateUid();
      const outcomes = await send(nodeAet, [forged, objectFor(pendingUid, 'Pending^Original'), objectFor(pendingUid, 'Mallory^Evil')]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        [STATUS.DUPLICATE_INSTANCE_REFUSED, STATUS.SUCCESS, STATUS.DUPLICATE_INSTANCE_REFUSED],
      );
      await ctx.t.server.services.ingest.drain();

      for (const [sop, name] of [
        [uid, 'Original^Patient'],
        [pendingUid, 'Pending^Original'],
      ]) {
        const file = await fetch(`${ctx.t.url}/dr/api/v1/auth/f/dcm/${sop}.dcm`, { headers: { authorization: `Bearer ${ctx.admin}` } });
        assert.equal(file.status, 200);
        assert.equal(
          readDicom(Buffer.from(await file.arrayBuffer())).dataSet.string(TAGS.patientName),
          name,
          'the served file is the first copy',
        );
        const study = await ctx.t.server.db.kysely
          .selectFrom('images')
          .innerJoin('studies', 'studies.id', 'images.study_pk')
          .select(['studies.patient_name', 'studies.id'])
          .where('images.sop_instance_uid', '=', sop)
          .executeTakeFirstOrThrow();
        assert.equal(study.patient_name, name);
      }
      assert.deepEqual(await indexedImage(uid), image, 'the image row is unchanged');
      const blob = await ctx.t.server.services.imageFiles.blobs.read(`dicom/${uid}.dcm`);
      const datasetOf = (part10: Buffer) => part10.subarray(readMetaHeader(part10).datasetOffset);
      assert.ok(datasetOf(blob).equals(datasetOf(original)), "the blob holds the original's dataset, byte for byte");
      const audited = await auditRows('dicom.store.duplicate_refused', uid);
      assert.equal(audited.length, 1);
      assert.equal(audited[0].source, 'dicom');
      assert.equal(audited[0].ip, '127.0.0.1');
      const detail = JSON.parse(audited[0].detail!);
      assert.equal(detail.calling_aet, nodeAet);
      assert.equal(detail.status, '0xC001');
      assert.equal((await auditRows('dicom.store.duplicate_refused', pendingUid)).length, 1);
    });

    test('the same SOP Instance UID with identical bytes is a success (a retry), from the same node or another', async () => {
      const [a, b] = [await addNode({ may_store: true }), await addNode({ may_store: true })];
      const scp = (await dr('GET', 'manage/pacs')).body.data.scp as { id: number; aet: string }[];
      const [aetA, aetB] = [a, b].map((n) => scp.find((x) => x.id === n.id)!.aet);
      const uid = generateUid();
      const bytes = objectFor(uid, 'Retry^Patient');
      assert.equal((await send(aetA, [bytes]))[0].status, STATUS.SUCCESS);
      assert.equal((await send(aetA, [bytes]))[0].status, STATUS.SUCCESS, 'again before it is indexed');
      await ctx.t.server.services.ingest.drain();
      assert.equal((await send(aetB, [bytes]))[0].status, STATUS.SUCCESS, 'again from another node once indexed');
      await ctx.t.server.services.ingest.drain();
      const rows = await ctx.t.server.db.kysely.selectFrom('stored_files').select('sha256').where('name', '=', `${uid}.dcm`).execute();
      assert.equal(rows.length, 1);
      assert.equal((await auditRows('dicom.store.duplicate_refused', uid)).length, 0);
    });

    test('two associations sending one SOP Instance UID at once: one copy is taken, the other refused', async () => {
      const node = await addNode({ may_store: true });
      const nodeAet = (await dr('GET', 'manage/pacs')).body.data.scp.find((n: { id: number }) => n.id === node.id).aet as string;
      const uid = generateUid();
      const names = ['First^Sender', 'Second^Sender'];
      const outcomes = await Promise.all(names.map((name) => send(nodeAet, [objectFor(uid, name)])));
      const statuses = outcomes.map(([o]) => o.status).sort((a, b) => a - b);
      assert.deepEqual(statuses, [STATUS.SUCCESS, STATUS.DUPLICATE_INSTANCE_REFUSED]);
      await ctx.t.server.services.ingest.drain();
      const kept = names[outcomes.findIndex(([o]) => o.status === STATUS.SUCCESS)];
      const blob = await ctx.t.server.services.imageFiles.blobs.read(`dicom/${uid}.dcm`);
      assert.equal(readDicom(blob).dataSet.string(TAGS.patientName), kept, 'the stored copy is the acknowledged one');
    });

    test('finding 10: echo by a pacs:read user goes only to configured nodes (403 0x0A000C elsewhere); pacs:write may echo any address', async () => {
      const reader = await createUser(ctx.t.url, ctx.admin, ['tech']);
      const closedPort = await freePort();
      const target = { address: '127.0.0.1', port: closedPort, aet: 'ANYONE', aec: 'ROENTGEN' };
      const refused = await dr('POST', 'scp/echo', target, reader.token);
      assert.equal(refused.status, 403, refused.text);
      assert.ok(isDrError(refused.body, '0x0A000C'), refused.text);
      assert.doesNotMatch(refused.text, /refused|timed out|DICOM peer/, 'nothing about the port is told');

      const byWriter = await dr('POST', 'scp/echo', target);
      assert.equal(byWriter.status, 502);
      assert.match(byWriter.body.description, /connection refused/);

      // A configured node (here our own SCP, which knows the node's AE title as a caller too).
      const self = { address: '127.0.0.1', port: ctx.t.server.dicomPort, aet: 'ROENTGEN', aec: 'ROENTGEN' };
      await addNode({ ...self, aet: 'ROENTGEN' });
      const ok = await dr('POST', 'scp/echo', self, reader.token);
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.body.data.ok, true);
    });

    test('finding 10: an echo to a port that is no DICOM peer names none of its bytes, and reads like a closed port to pacs:read', async () => {
      const banner = 'SSH-2.0-OpenSSH_9.6 Mallory-Banner-7f3a\r\n';
      const server = await bannerServer(banner);
      const reader = await createUser(ctx.t.url, ctx.admin, ['tech']);
      try {
        // As a PDU header the banner reads as type 0x53 and a length made of its bytes 2–5.
        const asLength = String(Buffer.from(banner).readUInt32BE(2));
        const byWriter = await dr('POST', 'scp/echo', {
          address: '127.0.0.1',
          port: server.port,
          aet: 'SSHD',
          aec: 'ROENTGEN',
          debug: true,
        });
        assert.equal(byWriter.status, 502, byWriter.text);
        assert.match(byWriter.body.description, /not a DICOM peer/);
        for (const leaked of ['SSH', 'OpenSSH', 'Mallory', '7f3a', asLength])
          assert.ok(!byWriter.text.includes(leaked), `the reply repeats ${leaked}: ${byWriter.text}`);

        // pacs:read, configured nodes: an open non-DICOM port and a closed one answer alike.
        const closedPort = await freePort();
        await addNode({ port: server.port, aet: 'SSHD' });
        await addNode({ port: closedPort, aet: 'CLOSED' });
        const open = await dr('POST', 'scp/echo', { address: '127.0.0.1', port: server.port, aet: 'SSHD', aec: 'ROENTGEN' }, reader.token);
        const closed = await dr(
          'POST',
          'scp/echo',
          { address: '127.0.0.1', port: closedPort, aet: 'CLOSED', aec: 'ROENTGEN' },
          reader.token,
        );
        assert.equal(open.status, closed.status);
        assert.equal(open.body.code, closed.body.code);
        assert.equal(open.body.description, closed.body.description);
        assert.ok(!open.text.includes('SSH') && !open.text.includes(asLength), open.text);
      } finally {
        await server.stop();
      }
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`security: the ingest indexer never replaces a stored object on ${dialect}`, () => {
    test('a journal entry left by a crash that takes a stored UID with other content is set aside and audited, the original kept', async () => {
      const env = isolatedEnv(dialect);
      const uid = generateUid();
      const original = objectFor(uid, 'Original^Patient');
      try {
        const first = await createServer(loadConfig(env));
        try {
          await first.db.kysely
            .updateTable('system_configs')
            .set({ config_value: 'MODALITY' })
            .where('config_key', '=', 'dicom.scp_allowed_aets')
            .execute();
          // The config service trusts its cached copy for up to 2 s, so the allow-list may take that long to reach the SCP.
          const outcome = await until('MODALITY admitted', async () => {
            try {
              const [stored] = await storeFiles(
                { host: '127.0.0.1', port: first.dicomPort, callingAet: 'MODALITY', calledAet: 'ROENTGEN' },
                [original],
                () => undefined,
              );
              return stored;
            } catch {
              return undefined;
            }
          });
          assert.equal(outcome.status, STATUS.SUCCESS, outcome.comment);
          await first.services.ingest.drain();
        } finally {
          await first.close();
        }
        // What the SCP's check never saw: an object journalled (acknowledged) before a crash.
        const journal = path.join(env.ROENTGEN_DATA_DIR, 'ingest-journal');
        const forgedName = '00000000000001-00000001-aaaaaaaa.dcm';
        fs.writeFileSync(path.join(journal, forgedName), objectFor(uid, 'Mallory^Evil'));

        const second = await createServer(loadConfig(env));
        try {
          const blob = await second.services.imageFiles.blobs.read(`dicom/${uid}.dcm`);
          assert.equal(readDicom(blob).dataSet.string(TAGS.patientName), 'Original^Patient');
          const names = await second.db.kysely
            .selectFrom('images')
            .innerJoin('studies', 'studies.id', 'images.study_pk')
            .select('studies.patient_name')
            .where('images.sop_instance_uid', '=', uid)
            .execute();
          assert.deepEqual(
            names.map((n) => n.patient_name),
            ['Original^Patient'],
          );
          assert.deepEqual(fs.readdirSync(path.join(journal, 'failed')), [forgedName], 'kept for a person to look at');
          const audited = await second.db.kysely
            .selectFrom('audit_logs')
            .selectAll()
            .where('action', '=', 'dicom.store.duplicate_refused')
            .where('resource_id', '=', uid)
            .execute();
          assert.equal(audited.length, 1);
          assert.equal(audited[0].source, 'dicom');
        } finally {
          await second.close();
        }
      } finally {
        await dropSchema(env.DATABASE_SCHEMA);
        fs.rmSync(env.ROENTGEN_DATA_DIR, { recursive: true, force: true });
      }
    });
  });
}
