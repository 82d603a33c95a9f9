/**
 * DICOM Upper Layer PDUs (PS3.8 §9.3): association request/accept/reject, data transfer,
 * release and abort. Hand-written: dcmjs-dimse moved 100 × 132 KB C-STOREs in 0.50 s where
 * DCMTK takes 0.055 s (measured on this project's 2-core build machine), and the issue asks for DCMTK's throughput.
 */
export const PDU = { ASSOCIATE_RQ: 1, ASSOCIATE_AC: 2, ASSOCIATE_RJ: 3, P_DATA: 4, RELEASE_RQ: 5, RELEASE_RP: 6, ABORT: 7 } as const;

export const APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1';
export { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION } from '../dicom/part10.js';

export class PduError extends Error {}

export interface ProposedContext {
  id: number;
  abstractSyntax: string;
  transferSyntaxes: string[];
}

/** Result of a presentation context in the A-ASSOCIATE-AC (PS3.8 Table 9-18). */
export const CONTEXT_RESULT = {
  ACCEPTED: 0,
  USER_REJECTION: 1,
  NO_REASON: 2,
  ABSTRACT_SYNTAX_NOT_SUPPORTED: 3,
  TRANSFER_SYNTAXES_NOT_SUPPORTED: 4,
} as const;

export interface AcceptedContext {
  id: number;
  result: number;
  transferSyntax: string;
}

export interface AssociateRequest {
  calledAet: string;
  callingAet: string;
  contexts: ProposedContext[];
  maxPduLength: number;
  implementationClassUid: string;
  implementationVersion: string;
}

export interface AssociateAccept {
  calledAet: string;
  callingAet: string;
  contexts: AcceptedContext[];
  maxPduLength: number;
  implementationClassUid: string;
  implementationVersion: string;
}

export interface AssociateReject {
  result: number;
  source: number;
  reason: number;
}

export interface Pdv {
  contextId: number;
  command: boolean;
  last: boolean;
  data: Buffer;
}

const ae = (title: string) => Buffer.from(title.padEnd(16, ' ').slice(0, 16), 'latin1');
const uidBytes = (uid: string) => Buffer.from(uid, 'latin1');

function item(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header[0] = type;
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
}

function pdu(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(6);
  header[0] = type;
  header.writeUInt32BE(body.length, 2);
  return Buffer.concat([header, body]);
}

function userInformation(maxPduLength: number, implementationClassUid: string, implementationVersion: string): Buffer {
  const max = Buffer.alloc(4);
  max.writeUInt32BE(maxPduLength);
  return item(
    0x50,
    Buffer.concat([item(0x51, max), item(0x52, uidBytes(implementationClassUid)), item(0x55, uidBytes(implementationVersion))]),
  );
}

function associateHeader(calledAet: string, callingAet: string): Buffer {
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(1, 0); // protocol version
  ae(calledAet).copy(fixed, 4);
  ae(callingAet).copy(fixed, 20);
  return fixed;
}

export function encodeAssociateRequest(rq: AssociateRequest): Buffer {
  const contexts = rq.contexts.map((c) =>
    item(
      0x20,
      Buffer.concat([
        Buffer.from([c.id, 0, 0, 0]),
        item(0x30, uidBytes(c.abstractSyntax)),
        ...c.transferSyntaxes.map((ts) => item(0x40, uidBytes(ts))),
      ]),
    ),
  );
  return pdu(
    PDU.ASSOCIATE_RQ,
    Buffer.concat([
      associateHeader(rq.calledAet, rq.callingAet),
      item(0x10, uidBytes(APPLICATION_CONTEXT)),
      ...contexts,
      userInformation(rq.maxPduLength, rq.implementationClassUid, rq.implementationVersion),
    ]),
  );
}

export function encodeAssociateAccept(ac: AssociateAccept): Buffer {
  const contexts = ac.contexts.map((c) =>
    item(0x21, Buffer.concat([Buffer.from([c.id, 0, c.result, 0]), item(0x40, uidBytes(c.transferSyntax))])),
  );
  return pdu(
    PDU.ASSOCIATE_AC,
    Buffer.concat([
      associateHeader(ac.calledAet, ac.callingAet),
      item(0x10, uidBytes(APPLICATION_CONTEXT)),
      ...contexts,
      userInformation(ac.maxPduLength, ac.implementationClassUid, ac.implementationVersion),
    ]),
  );
}

export function encodeAssociateReject(rj: AssociateReject): Buffer {
  return pdu(PDU.ASSOCIATE_RJ, Buffer.from([0, rj.result, rj.source, rj.reason]));
}

export const encodeReleaseRequest = () => pdu(PDU.RELEASE_RQ, Buffer.alloc(4));
export const encodeReleaseResponse = () => pdu(PDU.RELEASE_RP, Buffer.alloc(4));
export const encodeAbort = (source = 0, reason = 0) => pdu(PDU.ABORT, Buffer.from([0, 0, source, reason]));

/** Data bytes one P-DATA PDU carries: PDU body = PDV item length (4) + context id (1) + control header (1) + data. */
export const pduRoom = (maxPduLength: number) => Math.max(1, (maxPduLength > 0 ? maxPduLength : 1 << 20) - 6);

/**
 * A message (command or dataset) as P-DATA-TF PDUs of at most `maxPduLength` bytes, one PDV
 * each, in one contiguous buffer: a single large write. Handing the socket a 12-byte header
 * and a data slice per 16 KB PDU instead (zero-copy) sent 20 × 18 MB at 0.68× storescu here;
 * one copy of the data is cheaper than thousands of small writev entries.
 */
export function encodePData(
  contextId: number,
  command: boolean,
  data: Buffer | readonly Buffer[],
  maxPduLength: number,
  scratch?: Buffer,
  final = true,
): Buffer[] {
  const parts = Buffer.isBuffer(data) ? [data] : data;
  const total = parts.reduce((n, p) => n + p.length, 0);
  const room = pduRoom(maxPduLength);
  const count = Math.max(1, Math.ceil(total / room));
  const size = total + 12 * count;
  const out = scratch && scratch.length >= size ? scratch.subarray(0, size) : Buffer.allocUnsafe(size);
  let part = 0;
  let offset = 0;
  let sent = 0;
  let at = 0;
  do {
    const size = Math.min(room, total - sent);
    out[at] = PDU.P_DATA;
    out[at + 1] = 0;
    out.writeUInt32BE(size + 6, at + 2);
    out.writeUInt32BE(size + 2, at + 6);
    out[at + 10] = contextId;
    out[at + 11] = (command ? 1 : 0) | (final && sent + size === total ? 2 : 0);
    at += 12;
    let need = size;
    while (need > 0) {
      const current = parts[part];
      const take = Math.min(need, current.length - offset);
      current.copy(out, at, offset, offset + take);
      at += take;
      need -= take;
      offset += take;
      if (offset === current.length) {
        part += 1;
        offset = 0;
      }
    }
    sent += size;
  } while (sent < total);
  return [out];
}

// ---- decoding ----

function trimAe(bytes: Buffer): string {
  return bytes.toString('latin1').replace(/\0/g, '').trim();
}

function uidOf(bytes: Buffer): string {
  return bytes.toString('latin1').replace(/\0/g, '').trim();
}

/** Items of an associate PDU's variable part, as [type, body] pairs. */
function items(body: Buffer, from: number): [number, Buffer][] {
  const out: [number, Buffer][] = [];
  let at = from;
  while (at + 4 <= body.length) {
    const type = body[at];
    const length = body.readUInt16BE(at + 2);
    if (at + 4 + length > body.length) throw new PduError(`item 0x${type.toString(16)} runs past the end of its PDU`);
    out.push([type, body.subarray(at + 4, at + 4 + length)]);
    at += 4 + length;
  }
  return out;
}

function userInfoOf(body: Buffer): { maxPduLength: number; implementationClassUid: string; implementationVersion: string } {
  const info = { maxPduLength: 0, implementationClassUid: '', implementationVersion: '' };
  for (const [type, sub] of items(body, 0)) {
    if (type === 0x51 && sub.length >= 4) info.maxPduLength = sub.readUInt32BE(0);
    else if (type === 0x52) info.implementationClassUid = uidOf(sub);
    else if (type === 0x55) info.implementationVersion = uidOf(sub);
  }
  return info;
}

export function decodeAssociateRequest(body: Buffer): AssociateRequest {
  if (body.length < 68) throw new PduError('A-ASSOCIATE-RQ is too short');
  const rq: AssociateRequest = {
    calledAet: trimAe(body.subarray(4, 20)),
    callingAet: trimAe(body.subarray(20, 36)),
    contexts: [],
    maxPduLength: 0,
    implementationClassUid: '',
    implementationVersion: '',
  };
  for (const [type, value] of items(body, 68)) {
    if (type === 0x20) {
      if (value.length < 4) throw new PduError('presentation context item is too short');
      const context: ProposedContext = { id: value[0], abstractSyntax: '', transferSyntaxes: [] };
      for (const [subType, sub] of items(value, 4)) {
        if (subType === 0x30) context.abstractSyntax = uidOf(sub);
        else if (subType === 0x40) context.transferSyntaxes.push(uidOf(sub));
      }
      rq.contexts.push(context);
    } else if (type === 0x50) {
      Object.assign(rq, userInfoOf(value));
    }
  }
  return rq;
}

export function decodeAssociateAccept(body: Buffer): AssociateAccept {
  if (body.length < 68) throw new PduError('A-ASSOCIATE-AC is too short');
  const ac: AssociateAccept = {
    calledAet: trimAe(body.subarray(4, 20)),
    callingAet: trimAe(body.subarray(20, 36)),
    contexts: [],
    maxPduLength: 0,
    implementationClassUid: '',
    implementationVersion: '',
  };
  for (const [type, value] of items(body, 68)) {
    if (type === 0x21) {
      if (value.length < 4) throw new PduError('presentation context item is too short');
      const ts = items(value, 4).find(([t]) => t === 0x40);
      ac.contexts.push({ id: value[0], result: value[2], transferSyntax: ts ? uidOf(ts[1]) : '' });
    } else if (type === 0x50) {
      Object.assign(ac, userInfoOf(value));
    }
  }
  return ac;
}

export function decodeAssociateReject(body: Buffer): AssociateReject {
  if (body.length < 4) throw new PduError('A-ASSOCIATE-RJ is too short');
  return { result: body[1], source: body[2], reason: body[3] };
}

export function decodePData(body: Buffer): Pdv[] {
  const out: Pdv[] = [];
  let at = 0;
  while (at < body.length) {
    if (at + 6 > body.length) throw new PduError('PDV item header runs past the end of its PDU');
    const length = body.readUInt32BE(at);
    if (length < 2 || at + 4 + length > body.length) throw new PduError(`PDV item length ${length} does not fit its PDU`);
    const control = body[at + 5];
    out.push({
      contextId: body[at + 4],
      command: (control & 1) === 1,
      last: (control & 2) === 2,
      data: body.subarray(at + 6, at + 4 + length),
    });
    at += 4 + length;
  }
  return out;
}

/** Why an association was rejected, in words (PS3.8 Table 9-21). */
export function rejectReason(rj: AssociateReject): string {
  const permanence = rj.result === 1 ? 'permanent' : 'transient';
  // Source and reason come off the wire: any number, known or not.
  const reasons: Partial<Record<number, Partial<Record<number, string>>>> = {
    1: {
      1: 'no reason given',
      2: 'application context name not supported',
      3: 'calling AE title not recognized',
      7: 'called AE title not recognized',
    },
    2: { 1: 'no reason given', 2: 'protocol version not supported' },
    3: { 1: 'temporary congestion', 2: 'local limit exceeded' },
  };
  // An unlisted number is not repeated: it may be a byte of something that is no DICOM peer.
  return `${permanence}: ${reasons[rj.source]?.[rj.reason] ?? 'a reason not in PS3.8'}`;
}
