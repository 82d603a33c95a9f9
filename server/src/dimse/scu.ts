import net from 'node:net';
import { TRANSFER_SYNTAX } from '../dicom/reader.js';
import { COMMAND, NO_DATASET, STATUS, statusText, type Command } from './command.js';
import { Link, type FileRange, type LogLine, type Message } from './link.js';
import {
  CONTEXT_RESULT,
  decodeAssociateAccept,
  decodeAssociateReject,
  encodeAssociateRequest,
  encodeReleaseRequest,
  encodeReleaseResponse,
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION,
  PDU,
  PduError,
  rejectReason,
  type AcceptedContext,
  type ProposedContext,
} from './pdu.js';

export const VERIFICATION = '1.2.840.10008.1.1';
export const IMPLICIT_LE: string = TRANSFER_SYNTAX.IMPLICIT_LE;
export const EXPLICIT_LE: string = TRANSFER_SYNTAX.EXPLICIT_LE;

/** Why an association or an operation failed, in the terms a user can act on. */
export type DimseFailureKind = 'unreachable' | 'refused' | 'rejected' | 'timeout' | 'aborted' | 'protocol' | 'no-context';

export class DimseError extends Error {
  constructor(
    readonly kind: DimseFailureKind,
    message: string,
    readonly permanent = false,
  ) {
    super(message);
  }
}

export interface AssociationOptions {
  host: string;
  port: number;
  callingAet: string;
  calledAet: string;
  /** Abstract syntax → transfer syntaxes we offer for it, preferred first. */
  contexts: { abstractSyntax: string; transferSyntaxes: string[] }[];
  connectTimeoutMs?: number;
  dimseTimeoutMs?: number;
  maxPduLength?: number;
  log?: LogLine;
}

/** What we receive: 1 MiB PDUs keep the header overhead of an 18 MB object at ~18 PDUs. */
const OUR_MAX_PDU = 1 << 20;

/** A client association: C-ECHO, C-STORE and C-FIND over one negotiated link. */
export class Association {
  private nextMessageId = 1;

  private constructor(
    private readonly link: Link,
    readonly accepted: AcceptedContext[],
    private readonly proposed: ProposedContext[],
    /** The peer's largest PDU (0: unlimited). */
    readonly peerMaxPdu: number,
    private readonly dimseTimeoutMs: number,
  ) {}

  static async open(options: AssociationOptions): Promise<Association> {
    const log: LogLine = options.log ?? (() => undefined);
    const proposed = options.contexts.map((c, i) => ({
      id: 2 * i + 1,
      abstractSyntax: c.abstractSyntax,
      transferSyntaxes: c.transferSyntaxes,
    }));
    log('I', 'Requesting Association');
    const socket = await connect(options.host, options.port, options.connectTimeoutMs ?? 10_000);
    const link = new Link(socket, log);
    const request = encodeAssociateRequest({
      calledAet: options.calledAet,
      callingAet: options.callingAet,
      contexts: proposed,
      maxPduLength: options.maxPduLength ?? OUR_MAX_PDU,
      implementationClassUid: IMPLEMENTATION_CLASS_UID,
      implementationVersion: IMPLEMENTATION_VERSION,
    });
    log(
      'D',
      `Request Parameters: our AE ${options.callingAet}, peer AE ${options.calledAet} at ${options.host}:${options.port}, ${proposed.length} presentation context(s), max PDU ${options.maxPduLength ?? OUR_MAX_PDU}`,
    );
    const answer = new Promise<Association>((resolve, reject) => {
      const timer = setTimeout(() => {
        link.abort();
        reject(
          new DimseError(
            'timeout',
            `no association answer from ${options.host}:${options.port} within ${options.connectTimeoutMs ?? 10_000} ms`,
          ),
        );
      }, options.connectTimeoutMs ?? 10_000);
      // What a peer sent is never repeated in these messages: a port that is not DICOM would
      // otherwise show its banner's bytes (as a PDU type or length) to whoever asked.
      link.onClose = (error) => {
        clearTimeout(timer);
        reject(
          error instanceof PduError || error instanceof RangeError
            ? new DimseError('protocol', 'not a DICOM peer (its answer to the association request is not a DICOM PDU)')
            : new DimseError('aborted', 'the peer closed the connection during association'),
        );
      };
      link.onControl = (type, body) => {
        clearTimeout(timer);
        if (type === PDU.ASSOCIATE_AC) {
          const ac = decodeAssociateAccept(body);
          const max = ac.maxPduLength;
          log('I', `Association Accepted (Max Send PDV: ${max > 0 ? max - 12 : 'unlimited'})`);
          for (const c of ac.contexts) {
            const p = proposed.find((x) => x.id === c.id);
            log(
              'D',
              `  Context ID ${c.id}: ${p?.abstractSyntax ?? '?'} ${c.result === CONTEXT_RESULT.ACCEPTED ? `accepted with ${c.transferSyntax}` : `rejected (result ${c.result})`}`,
            );
          }
          const association = new Association(link, ac.contexts, proposed, max, options.dimseTimeoutMs ?? 60_000);
          association.watch();
          resolve(association);
        } else if (type === PDU.ASSOCIATE_RJ && body.length === 4) {
          const rj = decodeAssociateReject(body);
          log('E', `Association Rejected (${rejectReason(rj)})`);
          link.abort();
          reject(new DimseError('rejected', `association rejected by ${options.calledAet} (${rejectReason(rj)})`, rj.result === 1));
        } else {
          link.abort();
          reject(
            type === PDU.ABORT
              ? new DimseError('aborted', 'the peer aborted the association')
              : new DimseError('protocol', 'not a DICOM peer (its answer to the association request is not a DICOM PDU)'),
          );
        }
      };
    });
    link.write([request]);
    return answer;
  }

  /** Opens an association, runs `work` on it and releases it; aborts it when `work` fails. */
  static async run<T>(options: AssociationOptions, work: (association: Association) => Promise<T>): Promise<T> {
    const association = await Association.open(options);
    let result: T;
    try {
      result = await work(association);
    } catch (error) {
      association.abort();
      throw error;
    }
    await association.release();
    return result;
  }

  /** After association: releases and aborts from the peer end the link. */
  private watch(): void {
    this.link.onControl = (type) => {
      if (type === PDU.RELEASE_RQ) this.link.write([encodeReleaseResponse()]);
      if (type === PDU.ABORT) {
        this.link.log('E', 'the peer aborted the association');
        // Peers may keep the connection open after their A-ABORT (Orthanc refusing a C-FIND
        // does): waiting for a response would only end in our timeout.
        this.link.aborted('the peer aborted the association');
      }
      if (type === PDU.RELEASE_RP) this.released?.();
    };
  }

  private released: (() => void) | undefined;

  /** The accepted context for an abstract syntax: the first whose transfer syntax `acceptable` takes. */
  contextFor(abstractSyntax: string, acceptable?: (ts: string) => boolean): AcceptedContext | undefined {
    return this.accepted.find(
      (c) =>
        c.result === CONTEXT_RESULT.ACCEPTED &&
        this.proposed.find((p) => p.id === c.id)?.abstractSyntax === abstractSyntax &&
        (!acceptable || acceptable(c.transferSyntax)),
    );
  }

  private async request(contextId: number, command: Command, dataset?: readonly Buffer[] | FileRange): Promise<Message> {
    try {
      await this.link.sendMessage(contextId, command, dataset, this.peerMaxPdu);
      return await this.link.nextMessage(this.dimseTimeoutMs);
    } catch (error) {
      const message = (error as Error).message;
      throw new DimseError(message.startsWith('no answer') ? 'timeout' : 'aborted', message);
    }
  }

  async echo(): Promise<number> {
    const context = this.contextFor(VERIFICATION);
    if (!context) throw new DimseError('no-context', 'the peer did not accept the Verification SOP Class', true);
    const messageId = this.nextMessageId++;
    this.link.log('I', `Sending Echo Request (MsgID ${messageId})`);
    const answer = await this.request(context.id, {
      commandField: COMMAND.C_ECHO_RQ,
      affectedSopClassUid: VERIFICATION,
      messageId,
      dataSetType: NO_DATASET,
    });
    const status = answer.command.status ?? -1;
    this.link.log('I', `Received Echo Response (${statusText(status)})`);
    return status;
  }

  /** Sends one object's dataset (already in the context's transfer syntax) and returns the response command. */
  async store(contextId: number, sopClassUid: string, sopInstanceUid: string, dataset: readonly Buffer[] | FileRange): Promise<Command> {
    const messageId = this.nextMessageId++;
    this.link.log('I', `Sending Store Request (MsgID ${messageId}, ${sopInstanceUid})`);
    this.link.log(
      'D',
      `  Affected SOP Class UID ${sopClassUid}, ${Array.isArray(dataset) ? (dataset as readonly Buffer[]).reduce((n, b) => n + b.length, 0) : (dataset as FileRange).length} bytes on context ${contextId}`,
    );
    const answer = await this.request(
      contextId,
      {
        commandField: COMMAND.C_STORE_RQ,
        affectedSopClassUid: sopClassUid,
        affectedSopInstanceUid: sopInstanceUid,
        messageId,
        priority: 0,
        dataSetType: 0x0000,
      },
      dataset,
    );
    const status = answer.command.status ?? -1;
    this.link.log(
      'I',
      `Received Store Response (${statusText(status)}${answer.command.errorComment ? `: ${answer.command.errorComment}` : ''})`,
    );
    return answer.command;
  }

  /** C-FIND: every pending match's identifier, until the final status. */
  async find(sopClassUid: string, identifier: readonly Buffer[], contextId: number): Promise<{ status: number; matches: Buffer[] }> {
    const messageId = this.nextMessageId++;
    this.link.log('I', `Sending Find Request (MsgID ${messageId})`);
    let answer = await this.request(
      contextId,
      { commandField: COMMAND.C_FIND_RQ, affectedSopClassUid: sopClassUid, messageId, priority: 0, dataSetType: 0x0000 },
      identifier,
    );
    const matches: Buffer[] = [];
    // Pending is 0xFF00, or 0xFF01 when optional keys were not supported.
    while (((answer.command.status ?? 0) & 0xff00) === STATUS.PENDING) {
      if (answer.dataset) matches.push(Buffer.concat(answer.dataset));
      try {
        answer = await this.link.nextMessage(this.dimseTimeoutMs);
      } catch (error) {
        throw new DimseError('timeout', (error as Error).message);
      }
    }
    const status = answer.command.status ?? -1;
    this.link.log('I', `Received Final Find Response (${statusText(status)}), ${matches.length} match(es)`);
    return { status, matches };
  }

  async release(): Promise<void> {
    this.link.log('I', 'Releasing Association');
    if (this.link.isClosed) return;
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5_000);
      this.released = () => {
        clearTimeout(timer);
        resolve();
      };
      this.link.onClose = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.link.write([encodeReleaseRequest()]);
    await done;
    this.link.socket.destroy();
  }

  abort(): void {
    this.link.log('I', 'Aborting Association');
    this.link.abort();
  }
}

function connect(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DimseError('timeout', `no TCP connection to ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const refused = error.code === 'ECONNREFUSED';
      reject(
        new DimseError(
          refused ? 'refused' : 'unreachable',
          refused
            ? `connection refused by ${host}:${port} (nothing listening)`
            : `${host}:${port} is unreachable (${error.code ?? error.message})`,
        ),
      );
    });
  });
}
