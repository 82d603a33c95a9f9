import type { Socket } from 'node:net';
import { decodeCommand, encodeCommand, type Command } from './command.js';
import { decodePData, encodeAbort, encodePData, PDU, PduError } from './pdu.js';

/** One received DIMSE message: its command and, when one follows, its dataset's fragments. */
export interface Message {
  contextId: number;
  command: Command;
  dataset?: Buffer[];
}

export type LogLine = (level: 'I' | 'D' | 'E', text: string) => void;

/** PDUs larger than this are refused: nobody negotiates more, and a bogus length must not allocate gigabytes. */
const LARGEST_PDU = 64 * 1024 * 1024;

/**
 * The transport under an association, shared by our SCU and SCP: frames PDUs off the socket,
 * reassembles P-DATA fragments into messages, and writes PDUs corked (one writev per message).
 * Nagle is off: with it, loopback C-STORE is ~10× slower (library-notes.md).
 */
export class Link {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private command: Buffer[] = [];
  private dataset: Buffer[] = [];
  private pendingCommand: { contextId: number; command: Command } | undefined;
  private closed = false;
  private readonly waiting: { resolve: (m: Message) => void; reject: (e: Error) => void }[] = [];
  private readonly queued: Message[] = [];
  private failure: Error | undefined;
  /** Non-data PDUs (associate, release, abort) go here; P-DATA becomes messages. */
  onControl: (type: number, body: Buffer) => void = () => undefined;
  onClose: (error?: Error) => void = () => undefined;

  constructor(readonly socket: Socket, readonly log: LogLine) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('the peer closed the connection')));
  }

  private receive(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    try {
      while (this.buffered >= 6) {
        const head = this.peek(6);
        const length = head.readUInt32BE(2);
        if (length > LARGEST_PDU) throw new PduError(`PDU of ${length} bytes is larger than any we accept`);
        if (this.buffered < 6 + length) break;
        const pdu = this.take(6 + length);
        this.dispatch(pdu[0]!, pdu.subarray(6));
      }
    } catch (error) {
      this.log('E', `protocol error: ${(error as Error).message}`);
      this.abort();
      this.fail(error as Error);
    }
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    return Buffer.concat(this.chunks).subarray(0, n);
  }

  /** n bytes off the front; a copy only when they span chunks. */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0]!;
        const use = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, use);
        filled += use;
        if (use === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(use);
      }
    }
    this.buffered -= n;
    return out;
  }

  private dispatch(type: number, body: Buffer): void {
    if (type !== PDU.P_DATA) {
      this.onControl(type, body);
      return;
    }
    for (const pdv of decodePData(body)) {
      if (pdv.command) {
        this.command.push(pdv.data);
        if (!pdv.last) continue;
        const command = decodeCommand(Buffer.concat(this.command));
        this.command = [];
        if (command.dataSetType === 0x0101) this.deliver({ contextId: pdv.contextId, command });
        else this.pendingCommand = { contextId: pdv.contextId, command };
      } else {
        if (!this.pendingCommand) throw new PduError('a dataset fragment arrived before its command');
        this.dataset.push(pdv.data);
        if (!pdv.last) continue;
        this.deliver({ ...this.pendingCommand, dataset: this.dataset });
        this.pendingCommand = undefined;
        this.dataset = [];
      }
    }
  }

  private deliver(message: Message): void {
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve(message);
    else this.queued.push(message);
  }

  private fail(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = error;
    for (const w of this.waiting.splice(0)) w.reject(error);
    this.onClose(error);
  }

  /** The next message, or a rejection when the link dies or `timeoutMs` passes. */
  nextMessage(timeoutMs: number): Promise<Message> {
    const queued = this.queued.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const entry = {
        resolve: (m: Message) => { clearTimeout(timer); resolve(m); },
        reject: (e: Error) => { clearTimeout(timer); reject(e); },
      };
      this.waiting.push(entry);
    });
  }

  write(buffers: readonly Buffer[]): void {
    if (this.closed) return;
    this.socket.cork();
    for (const b of buffers) this.socket.write(b);
    this.socket.uncork();
  }

  /**
   * A command and, when given, its dataset (consecutive parts), fragmented to the peer's PDU size.
   * Datasets are encoded into one buffer kept for the association: every request waits for its
   * response, by which time the peer has read the whole message, so the buffer is free again —
   * and a fresh 18 MB buffer per object cost ~10 ms of page faults here.
   */
  sendMessage(contextId: number, command: Command, dataset: readonly Buffer[] | undefined, maxPduLength: number): void {
    const buffers = encodePData(contextId, true, encodeCommand(command), maxPduLength);
    if (dataset) {
      const [encoded] = encodePData(contextId, false, dataset, maxPduLength, this.scratch);
      if (!this.scratch || encoded!.buffer !== this.scratch.buffer) this.scratch = encoded;
      buffers.push(encoded!);
    }
    this.write(buffers);
  }

  private scratch: Buffer | undefined;

  abort(): void {
    if (!this.closed) this.socket.end(encodeAbort());
    this.socket.destroySoon?.();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
