import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { TRANSFER_SYNTAX as TS } from '../dicom/reader.js';
import { COMMAND, NO_DATASET, STATUS, type Command } from './command.js';
import { Link, type DatasetSink, type LogLine } from './link.js';
import {
  CONTEXT_RESULT,
  decodeAssociateRequest,
  encodeAssociateAccept,
  encodeAssociateReject,
  encodeReleaseResponse,
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION,
  PDU,
  type AcceptedContext,
  type AssociateRequest,
} from './pdu.js';
import { VERIFICATION } from './scu.js';

/** Transfer syntaxes we take in, in our order of preference when a context offers several. */
export const RECEIVABLE_SYNTAXES: string[] = [
  TS.EXPLICIT_LE,
  TS.IMPLICIT_LE,
  TS.JPEG_LOSSLESS_SV1,
  TS.JPEG_LOSSLESS,
  TS.JPEG_LS_LOSSLESS,
  TS.JPEG_LS_NEAR,
  TS.J2K_LOSSLESS,
  TS.J2K,
  TS.HTJ2K_LOSSLESS,
  TS.HTJ2K_LOSSLESS_RPCL,
  TS.HTJ2K,
  TS.JPEG_BASELINE,
  TS.JPEG_EXTENDED,
  TS.RLE,
  TS.DEFLATED_LE,
  TS.EXPLICIT_BE, // retired, still sent by old modalities
];

/** Storage SOP classes live under 1.2.840.10008.5.1.4.1.1 (PS3.4 Annex B); we take them all. */
export const isStorageSopClass = (uid: string) => uid.startsWith('1.2.840.10008.5.1.4.1.1.');

/** Who is on the other end of an association. */
export interface ScpPeer {
  /** Names the association in logs and audit rows. */
  associationId: string;
  callingAet: string;
  calledAet: string;
  /** The peer's IP address (an IPv4-mapped IPv6 address as plain IPv4). */
  address: string;
}

/** Whether a calling AE may associate, and whether it may store. */
export type Admission = { accepted: true; mayStore: boolean } | { accepted: false };

/** What the SCP refused on its own, for the caller's audit trail. */
export type ScpRefusal =
  | { kind: 'association-rejected'; peer: ScpPeer; reason: string }
  | { kind: 'store-not-authorized'; peer: ScpPeer; sopClassUid: string; sopInstanceUid: string; status: number }
  | { kind: 'store-too-large'; peer: ScpPeer; sopClassUid: string; sopInstanceUid: string; status: number; limit: number };

/** Study Instance UIDs an association summary names at most (the count is kept beyond). */
export const SUMMARY_STUDIES = 50;

/** What one association stored, told when it ends (for its audit row). */
export interface StoreSummary {
  peer: ScpPeer;
  /** Objects acknowledged with success or a warning. */
  objects: number;
  bytes: number;
  /** The studies they belong to, the first SUMMARY_STUDIES of them. */
  studyInstanceUids: string[];
  studies: number;
}

/** What onStore answers: the DIMSE status, and the study the object belongs to when it was understood. */
export interface StoreOutcome {
  status: number;
  comment?: string;
  studyInstanceUid?: string;
}

export interface ReceivedObject {
  callingAet: string;
  peer: ScpPeer;
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntax: string;
  /** The dataset as it arrived, in the link's buffer: valid until the response is sent (copy what you keep). */
  dataset: Buffer[];
  /** Where it was also written while it arrived, when `openSink` gave one. */
  sink?: DatasetSink;
}

export interface StoreHeader {
  callingAet: string;
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntax: string;
}

export interface ScpOptions {
  aet: string;
  /**
   * Whether the calling AE (at its address) may associate and store. A failure to decide
   * rejects the association (transient): the SCP never lets a caller in because a check failed.
   */
  admit: (peer: ScpPeer) => Promise<Admission>;
  onStore: (object: ReceivedObject) => Promise<StoreOutcome>;
  /** Told what the SCP refused by itself (audit); its failures are ignored. */
  onRefusal?: (refusal: ScpRefusal) => Promise<void>;
  /** Told, once an association that stored objects ends (released, aborted, idle), what it stored; failures ignored. */
  onAssociationEnd?: (summary: StoreSummary) => Promise<void>;
  /** The largest object (dataset bytes) taken, read when an association is accepted; larger ones get A700 unbuffered. */
  maxObjectBytes?: () => Promise<number>;
  /** A sink the dataset of a C-STORE is written to while it arrives (then passed to onStore). */
  openSink?: (header: StoreHeader) => DatasetSink | undefined;
  log?: LogLine;
  /** An association silent this long is aborted. */
  idleTimeoutMs?: number;
  maxPduLength?: number;
}

/** The peer's address as the audit trail and the node check want it. */
export function peerAddress(socket: net.Socket): string {
  const address = socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * Our DICOM service (C-ECHO and C-STORE SCP) on a TCP port. Each association runs on its own
 * connection; a store is acknowledged only after `onStore` has made the object durable.
 */
export class DimseServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly options: ScpOptions) {
    this.server = net.createServer((socket) => this.associate(socket));
  }

  async listen(port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private associate(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    const log: LogLine = this.options.log ?? (() => undefined);
    const link = new Link(socket, log);
    socket.setTimeout(this.options.idleTimeoutMs ?? 60_000, () => link.abort());
    let associated = false;
    link.onControl = (type, body) => {
      if (type === PDU.ASSOCIATE_RQ && !associated) {
        associated = true;
        const request = decodeAssociateRequest(body);
        const peer: ScpPeer = {
          associationId: randomUUID(),
          callingAet: request.callingAet,
          calledAet: request.calledAet,
          address: peerAddress(socket),
        };
        void this.answer(link, request, peer).then(({ contexts, mayStore }) => {
          if (contexts.length > 0) void this.serve(link, request, contexts, peer, mayStore);
        });
      } else if (type === PDU.RELEASE_RQ) {
        link.write([encodeReleaseResponse()]);
        socket.end();
      } else if (type === PDU.ABORT) {
        socket.destroy();
      }
    };
  }

  /** Accepts or rejects the association; the accepted contexts (none when rejected), and whether the peer may store. */
  private async answer(link: Link, rq: AssociateRequest, peer: ScpPeer): Promise<{ contexts: AcceptedContext[]; mayStore: boolean }> {
    // PS3.8 9.3.4: result 1 permanent / 2 transient; source 1 service-user, 3 service-provider (presentation).
    const reject = (result: number, source: number, reason: number) => {
      link.write([encodeAssociateReject({ result, source, reason })]);
      link.socket.end();
      return { contexts: [] as AcceptedContext[], mayStore: false };
    };
    if (rq.calledAet !== this.options.aet) return reject(1, 1, 7);
    let admission: Admission;
    try {
      admission = await this.options.admit(peer);
    } catch {
      return reject(2, 3, 1); // temporary congestion: the check could not be made, try later
    }
    if (!admission.accepted) {
      await this.refused({ kind: 'association-rejected', peer, reason: 'calling AE title not recognized' });
      return reject(1, 1, 3);
    }
    if (this.options.maxObjectBytes) {
      try {
        link.maxDatasetBytes = await this.options.maxObjectBytes();
      } catch {
        return reject(2, 3, 1);
      }
    }
    const contexts = rq.contexts.map((c): AcceptedContext => {
      if (c.abstractSyntax !== VERIFICATION && !isStorageSopClass(c.abstractSyntax))
        return { id: c.id, result: CONTEXT_RESULT.ABSTRACT_SYNTAX_NOT_SUPPORTED, transferSyntax: c.transferSyntaxes[0] ?? '' };
      const chosen = RECEIVABLE_SYNTAXES.find((ts) => c.transferSyntaxes.includes(ts));
      return chosen
        ? { id: c.id, result: CONTEXT_RESULT.ACCEPTED, transferSyntax: chosen }
        : { id: c.id, result: CONTEXT_RESULT.TRANSFER_SYNTAXES_NOT_SUPPORTED, transferSyntax: c.transferSyntaxes[0] ?? '' };
    });
    link.write([
      encodeAssociateAccept({
        calledAet: rq.calledAet,
        callingAet: rq.callingAet,
        contexts,
        maxPduLength: this.options.maxPduLength ?? 1 << 20,
        implementationClassUid: IMPLEMENTATION_CLASS_UID,
        implementationVersion: IMPLEMENTATION_VERSION,
      }),
    ]);
    return { contexts, mayStore: admission.mayStore };
  }

  private async refused(refusal: ScpRefusal): Promise<void> {
    await this.options.onRefusal?.(refusal).catch(() => undefined);
  }

  private async serve(link: Link, rq: AssociateRequest, accepted: AcceptedContext[], peer: ScpPeer, mayStore: boolean): Promise<void> {
    const abstractOf = new Map(rq.contexts.map((c) => [c.id, c.abstractSyntax]));
    const syntaxOf = new Map(accepted.filter((c) => c.result === CONTEXT_RESULT.ACCEPTED).map((c) => [c.id, c.transferSyntax]));
    const openSink = this.options.openSink;
    if (openSink && mayStore) {
      link.openSink = (contextId, command) => {
        const transferSyntax = syntaxOf.get(contextId);
        if (command.commandField !== COMMAND.C_STORE_RQ || !transferSyntax || !command.affectedSopInstanceUid) return undefined;
        return openSink({
          callingAet: rq.callingAet,
          sopClassUid: command.affectedSopClassUid ?? abstractOf.get(contextId) ?? '',
          sopInstanceUid: command.affectedSopInstanceUid,
          transferSyntax,
        });
      };
    }
    const summary: StoreSummary = { peer, objects: 0, bytes: 0, studyInstanceUids: [], studies: 0 };
    const studies = new Set<string>();
    try {
      await this.serveMessages(link, rq, peer, mayStore, abstractOf, syntaxOf, (bytes, outcome) => {
        summary.objects += 1;
        summary.bytes += bytes;
        const study = outcome.studyInstanceUid;
        if (study && !studies.has(study)) {
          studies.add(study);
          if (summary.studyInstanceUids.length < SUMMARY_STUDIES) summary.studyInstanceUids.push(study);
        }
      });
    } finally {
      summary.studies = studies.size;
      if (summary.objects > 0) await this.options.onAssociationEnd?.(summary).catch(() => undefined);
    }
  }

  /** Answers the association's messages until it is released, aborted or idle; `stored` is told each object kept. */
  private async serveMessages(
    link: Link,
    rq: AssociateRequest,
    peer: ScpPeer,
    mayStore: boolean,
    abstractOf: Map<number, string>,
    syntaxOf: Map<number, string>,
    stored: (bytes: number, outcome: StoreOutcome) => void,
  ): Promise<void> {
    for (;;) {
      let message;
      try {
        message = await link.nextMessage(this.options.idleTimeoutMs ?? 60_000);
      } catch {
        return; // released, aborted or idle
      }
      const { command, contextId } = message;
      const reply = (c: Command) => link.sendMessage(contextId, c, undefined, rq.maxPduLength);
      const storeReply = (sopClassUid: string, sopInstanceUid: string, status: number, errorComment: string | undefined) =>
        reply({
          commandField: COMMAND.C_STORE_RSP,
          affectedSopClassUid: sopClassUid,
          affectedSopInstanceUid: sopInstanceUid,
          messageIdBeingRespondedTo: command.messageId,
          dataSetType: NO_DATASET,
          status,
          errorComment,
        });
      const transferSyntax = syntaxOf.get(contextId);
      if (command.commandField === COMMAND.C_ECHO_RQ) {
        await reply({
          commandField: COMMAND.C_ECHO_RSP,
          affectedSopClassUid: VERIFICATION,
          messageIdBeingRespondedTo: command.messageId,
          dataSetType: NO_DATASET,
          status: STATUS.SUCCESS,
        });
      } else if (command.commandField === COMMAND.C_STORE_RQ && message.oversize) {
        const status = STATUS.OUT_OF_RESOURCES;
        const sopInstanceUid = command.affectedSopInstanceUid ?? '';
        const sopClassUid = command.affectedSopClassUid ?? abstractOf.get(contextId) ?? '';
        await this.refused({ kind: 'store-too-large', peer, sopClassUid, sopInstanceUid, status, limit: link.maxDatasetBytes });
        await storeReply(sopClassUid, sopInstanceUid, status, `object larger than ${link.maxDatasetBytes} bytes`);
      } else if (command.commandField === COMMAND.C_STORE_RQ && transferSyntax && message.dataset) {
        const sopClassUid = command.affectedSopClassUid ?? abstractOf.get(contextId) ?? '';
        const sopInstanceUid = command.affectedSopInstanceUid ?? '';
        let outcome: StoreOutcome;
        if (mayStore) {
          try {
            outcome = await this.options.onStore({
              callingAet: rq.callingAet,
              peer,
              sopClassUid,
              sopInstanceUid,
              transferSyntax,
              dataset: message.dataset,
              ...(message.sink ? { sink: message.sink } : {}),
            });
          } catch (error) {
            await Promise.resolve(message.sink?.discard()).catch(() => undefined);
            outcome = { status: STATUS.OUT_OF_RESOURCES, comment: (error as Error).message };
          }
        } else {
          // No sink was opened for it (openSink is not set for such an association).
          outcome = { status: STATUS.NOT_AUTHORIZED, comment: 'this AE may not store here' };
          await this.refused({ kind: 'store-not-authorized', peer, sopClassUid, sopInstanceUid, status: outcome.status });
        }
        if (outcome.status === STATUS.SUCCESS || (outcome.status & 0xf000) === 0xb000) {
          stored(
            message.dataset.reduce((n, b) => n + b.length, 0),
            outcome,
          );
        }
        await storeReply(sopClassUid, sopInstanceUid, outcome.status, outcome.comment);
      } else {
        void Promise.resolve(message.sink?.discard()).catch(() => undefined);
        // A service we do not offer on this context (PS3.7 C.4: 0x0211 unrecognized operation).
        await reply({
          commandField: command.commandField | 0x8000,
          messageIdBeingRespondedTo: command.messageId,
          dataSetType: NO_DATASET,
          status: 0x0211,
        });
      }
    }
  }
}
