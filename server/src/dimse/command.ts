/**
 * DIMSE command sets (PS3.7 §9.3, §E): group 0000 in implicit VR little endian.
 */
export const COMMAND = {
  C_STORE_RQ: 0x0001,
  C_STORE_RSP: 0x8001,
  C_FIND_RQ: 0x0020,
  C_FIND_RSP: 0x8020,
  C_ECHO_RQ: 0x0030,
  C_ECHO_RSP: 0x8030,
  C_CANCEL_RQ: 0x0fff,
} as const;

/** (0000,0800): no dataset follows. */
export const NO_DATASET = 0x0101;

export const STATUS = {
  SUCCESS: 0x0000,
  PENDING: 0xff00,
  PENDING_WARNING: 0xff01,
  CANCEL: 0xfe00,
  OUT_OF_RESOURCES: 0xa700,
  SOP_CLASS_NOT_SUPPORTED: 0x0122,
  CANNOT_UNDERSTAND: 0xc000,
  PROCESSING_FAILURE: 0x0110,
  /** PS3.7 C.5: the caller may not invoke the operation (a node without may_store sending). */
  NOT_AUTHORIZED: 0x0124,
  /**
   * Ours, in the C-STORE "cannot understand" range (PS3.4 B.2.3, Cxxx): the SOP Instance UID is
   * already stored with other content, and a stored object is never replaced.
   */
  DUPLICATE_INSTANCE_REFUSED: 0xc001,
} as const;

export interface Command {
  affectedSopClassUid?: string;
  commandField: number;
  messageId?: number;
  messageIdBeingRespondedTo?: number;
  priority?: number;
  dataSetType: number;
  status?: number;
  affectedSopInstanceUid?: string;
  errorComment?: string;
}

const TAG = {
  groupLength: 0x0000,
  affectedSopClass: 0x0002,
  commandField: 0x0100,
  messageId: 0x0110,
  respondedTo: 0x0120,
  priority: 0x0700,
  dataSetType: 0x0800,
  status: 0x0900,
  errorComment: 0x0902,
  affectedSopInstance: 0x1000,
} as const;

function stringElement(element: number, value: string, pad: string): Buffer {
  const text = value.length % 2 ? value + pad : value;
  const out = Buffer.alloc(8 + text.length);
  out.writeUInt16LE(0x0000, 0);
  out.writeUInt16LE(element, 2);
  out.writeUInt32LE(text.length, 4);
  out.write(text, 8, 'latin1');
  return out;
}

function ushortElement(element: number, value: number): Buffer {
  const out = Buffer.alloc(10);
  out.writeUInt16LE(0x0000, 0);
  out.writeUInt16LE(element, 2);
  out.writeUInt32LE(2, 4);
  out.writeUInt16LE(value, 8);
  return out;
}

export function encodeCommand(c: Command): Buffer {
  const elements: Buffer[] = [];
  if (c.affectedSopClassUid !== undefined) elements.push(stringElement(TAG.affectedSopClass, c.affectedSopClassUid, '\0'));
  elements.push(ushortElement(TAG.commandField, c.commandField));
  if (c.messageId !== undefined) elements.push(ushortElement(TAG.messageId, c.messageId));
  if (c.messageIdBeingRespondedTo !== undefined) elements.push(ushortElement(TAG.respondedTo, c.messageIdBeingRespondedTo));
  if (c.priority !== undefined) elements.push(ushortElement(TAG.priority, c.priority));
  elements.push(ushortElement(TAG.dataSetType, c.dataSetType));
  if (c.status !== undefined) elements.push(ushortElement(TAG.status, c.status));
  if (c.errorComment) elements.push(stringElement(TAG.errorComment, c.errorComment.slice(0, 64), ' '));
  if (c.affectedSopInstanceUid !== undefined) elements.push(stringElement(TAG.affectedSopInstance, c.affectedSopInstanceUid, '\0'));
  const body = Buffer.concat(elements);
  const length = Buffer.alloc(12);
  length.writeUInt32LE(0x00000000, 0);
  length.writeUInt32LE(4, 4);
  length.writeUInt32LE(body.length, 8);
  return Buffer.concat([length, body]);
}

export class CommandError extends Error {}

export function decodeCommand(bytes: Buffer): Command {
  const c: Command = { commandField: -1, dataSetType: NO_DATASET };
  let at = 0;
  while (at + 8 <= bytes.length) {
    const group = bytes.readUInt16LE(at);
    const element = bytes.readUInt16LE(at + 2);
    const length = bytes.readUInt32LE(at + 4);
    if (group !== 0 || at + 8 + length > bytes.length) throw new CommandError('malformed command set');
    const value = bytes.subarray(at + 8, at + 8 + length);
    const text = () => value.toString('latin1').replace(/[\0 ]+$/, '');
    const ushort = () => (length >= 2 ? value.readUInt16LE(0) : 0);
    switch (element) {
      case TAG.affectedSopClass:
        c.affectedSopClassUid = text();
        break;
      case TAG.commandField:
        c.commandField = ushort();
        break;
      case TAG.messageId:
        c.messageId = ushort();
        break;
      case TAG.respondedTo:
        c.messageIdBeingRespondedTo = ushort();
        break;
      case TAG.priority:
        c.priority = ushort();
        break;
      case TAG.dataSetType:
        c.dataSetType = ushort();
        break;
      case TAG.status:
        c.status = ushort();
        break;
      case TAG.errorComment:
        c.errorComment = text();
        break;
      case TAG.affectedSopInstance:
        c.affectedSopInstanceUid = text();
        break;
      default:
        break;
    }
    at += 8 + length;
  }
  if (c.commandField < 0) throw new CommandError('command set without a Command Field');
  return c;
}

export const hasDataset = (c: Command) => c.dataSetType !== NO_DATASET;

/** A status in words, as DCMTK prints them. */
export function statusText(status: number): string {
  if (status === STATUS.SUCCESS) return 'Success';
  if ((status & 0xff00) === 0xff00) return 'Pending';
  if (status === STATUS.CANCEL) return 'Cancel';
  if ((status & 0xf000) === 0xb000) return `Warning 0x${status.toString(16).padStart(4, '0')}`;
  const named: Record<number, string> = {
    [STATUS.OUT_OF_RESOURCES]: 'Refused: Out of Resources',
    [STATUS.SOP_CLASS_NOT_SUPPORTED]: 'Refused: SOP Class not supported',
    [STATUS.CANNOT_UNDERSTAND]: 'Error: Cannot understand',
    [STATUS.PROCESSING_FAILURE]: 'Failure: Processing failure',
    [STATUS.NOT_AUTHORIZED]: 'Refused: Not authorized',
    [STATUS.DUPLICATE_INSTANCE_REFUSED]: 'Error: SOP Instance already stored with other content',
  };
  return named[status] ?? `Failure 0x${status.toString(16).padStart(4, '0')}`;
}
