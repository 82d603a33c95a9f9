import fs from 'node:fs';
import type { Socket } from 'node:net';
import { decodeCommand, encodeCommand, type Command } from './command.js';
import { encodeAbort, encodePData, PDU, pduRoom, PduError } from './pdu.js';

/** One received DIMSE message: its command and, when one follows, its dataset (valid until the next nextMessage call). */
export interface Message {
  contextId: number;
  command: Command;
  dataset?: Buffer[];
  /** Where the dataset was also written as it arrived (see Link.openSink). */
  sink?: DatasetSink;
  /** The dataset grew past Link.maxDatasetBytes: its bytes were dropped as they came (no dataset, no sink). */
  oversize?: boolean;
}

/**
 * Takes a dataset's bytes while they arrive, so writing them overlaps receiving them (the SCP
 * writes its journal this way). A write that throws stops the writing; the message then carries
 * the sink with `failed` set.
 */
export interface DatasetSink {
  write(bytes: Buffer): void;
  /** The object will not be kept (refused, or the association died): remove what was written. */
  discard(): void | Promise<void>;
  failed?: Error;
}

export type LogLine = (level: 'I' | 'D' | 'E', text: string) => void;

/** Part of a file to send as a dataset. */
export interface FileRange {
  path: string;
  offset: number;
  length: number;
}

/** Received dataset bytes handed to a sink at a time. */
const SINK_BYTES = 1024 * 1024;

/** Dataset bytes encoded and written per step when sending. */
const SLICE_BYTES = 1024 * 1024;

/** PDUs larger than this are refused: nobody negotiates more, and a bogus length must not allocate gigabytes. */
const LARGEST_PDU = 64 * 1024 * 1024;

/**
 * The transport under an association, shared by our SCU and SCP: frames PDUs off the socket,
 * reassembles P-DATA fragments into messages, and writes PDUs corked (one writev per message).
 * Nagle is off: with it, loopback C-STORE is ~10× slower (measured here with DCMTK peers).
 */
export class Link {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private command: Buffer[] = [];
  private pendingCommand: { contextId: number; command: Command } | undefined;
  /** Bytes left of the P-DATA PDU being read (0: the next bytes are a PDU header). */
  private pduLeft = 0;
  /** The PDV being read: its data bytes still to come, and what it is. */
  private pdv: { left: number; contextId: number; command: boolean; last: boolean } | undefined;
  /**
   * Datasets are reassembled straight from the socket's chunks into this buffer, kept for the
   * link: an 18 MB object arrives in ~290 chunks, and copying whole PDUs and then the dataset
   * into fresh buffers cost two page-faulting copies (~30 ms) per object here.
   */
  private datasetBuffer = Buffer.alloc(0);
  private datasetLength = 0;
  /** A delivered message still refers to datasetBuffer: the next dataset goes into a new one. */
  private datasetHeld = false;
  private closed = false;
  private readonly waiting: { resolve: (m: Message) => void; reject: (e: Error) => void }[] = [];
  private readonly queued: Message[] = [];
  private failure: Error | undefined;
  /** For a command followed by a dataset: a sink for the dataset's bytes, or none. */
  openSink: (contextId: number, command: Command) => DatasetSink | undefined = () => undefined;
  private sink: DatasetSink | undefined;
  /** Bytes of the dataset being read already given to the sink. */
  private sunk = 0;
  /**
   * Largest dataset kept: past it the rest of the dataset is read and dropped (the sink
   * discarded), and the message arrives marked `oversize`, so a sender cannot make us hold an
   * object of any size in memory.
   */
  maxDatasetBytes = Number.POSITIVE_INFINITY;
  private oversize = false;
  /** Non-data PDUs (associate, release, abort) go here; P-DATA becomes messages. */
  onControl: (type: number, body: Buffer) => void = () => undefined;
  onClose: (error?: Error) => void = () => undefined;

  constructor(
    readonly socket: Socket,
    readonly log: LogLine,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('the peer closed the connection')));
  }

  private receive(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    try {
      while (this.step()) {
        /* until the bytes at hand are used up */
      }
    } catch (error) {
      this.log('E', `protocol error: ${(error as Error).message}`);
      this.abort();
      this.fail(error as Error);
    }
  }

  /** Reads one piece (a PDU header, a PDV header, PDV data, a control PDU); false when more bytes are needed. */
  private step(): boolean {
    if (this.pdv) {
      if (this.pdv.left > 0) {
        if (this.buffered === 0) return false;
        const n = Math.min(this.pdv.left, this.buffered);
        if (this.pdv.command) this.command.push(this.take(n));
        else this.appendDataset(n);
        this.pdv.left -= n;
        this.pduLeft -= n;
        if (this.pdv.left > 0) return false;
      }
      const done = this.pdv;
      this.pdv = undefined;
      this.completePdv(done.contextId, done.command, done.last);
      return true;
    }
    if (this.pduLeft > 0) {
      if (this.buffered < 6) return false;
      const head = this.take(6);
      const length = head.readUInt32BE(0);
      if (length < 2 || 4 + length > this.pduLeft) throw new PduError(`PDV item length ${length} does not fit its PDU`);
      const control = head[5];
      this.pduLeft -= 6;
      this.pdv = { left: length - 2, contextId: head[4], command: (control & 1) === 1, last: (control & 2) === 2 };
      return true;
    }
    if (this.buffered < 6) return false;
    const head = this.peek(6);
    const type = head[0];
    const length = head.readUInt32BE(2);
    if (length > LARGEST_PDU) throw new PduError(`PDU of ${length} bytes is larger than any we accept`);
    if (type === PDU.P_DATA) {
      if (length < 6) throw new PduError('P-DATA PDU without a PDV item');
      this.take(6);
      this.pduLeft = length;
      return true;
    }
    if (this.buffered < 6 + length) return false;
    this.onControl(type, this.take(6 + length).subarray(6));
    return true;
  }

  private appendDataset(n: number): void {
    if (this.oversize || this.datasetLength + n > this.maxDatasetBytes) {
      if (!this.oversize) {
        this.oversize = true;
        void Promise.resolve(this.sink?.discard()).catch(() => undefined);
        this.sink = undefined;
        this.datasetLength = 0;
        this.sunk = 0;
      }
      this.skip(n);
      return;
    }
    if (this.datasetLength === 0 && this.datasetHeld) {
      this.datasetBuffer = Buffer.alloc(0);
      this.datasetHeld = false;
    }
    const need = this.datasetLength + n;
    if (need > this.datasetBuffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, 2 * this.datasetBuffer.length, 64 * 1024));
      this.datasetBuffer.copy(grown, 0, 0, this.datasetLength);
      this.datasetBuffer = grown;
    }
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      const use = Math.min(c.length, n - filled);
      c.copy(this.datasetBuffer, this.datasetLength + filled, 0, use);
      filled += use;
      if (use === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(use);
    }
    this.datasetLength += n;
    this.buffered -= n;
    if (this.datasetLength - this.sunk >= SINK_BYTES) this.feedSink();
  }

  private feedSink(): void {
    const sink = this.sink;
    if (!sink || sink.failed || this.datasetLength === this.sunk) return;
    try {
      sink.write(this.datasetBuffer.subarray(this.sunk, this.datasetLength));
    } catch (error) {
      sink.failed = error as Error;
    }
    this.sunk = this.datasetLength;
  }

  private completePdv(contextId: number, command: boolean, last: boolean): void {
    if (command) {
      if (!last) return;
      const decoded = decodeCommand(Buffer.concat(this.command));
      this.command = [];
      if (decoded.dataSetType === 0x0101) {
        this.deliver({ contextId, command: decoded });
        return;
      }
      this.pendingCommand = { contextId, command: decoded };
      this.sink = this.openSink(contextId, decoded);
      this.sunk = 0;
      return;
    }
    if (!this.pendingCommand) throw new PduError('a dataset fragment arrived before its command');
    if (!last) return;
    if (this.oversize) {
      this.oversize = false;
      this.deliver({ ...this.pendingCommand, oversize: true });
      this.pendingCommand = undefined;
      return;
    }
    this.feedSink();
    const dataset = this.datasetBuffer.subarray(0, this.datasetLength);
    this.datasetHeld = true;
    this.datasetLength = 0;
    const sink = this.sink;
    this.sink = undefined;
    this.deliver({ ...this.pendingCommand, dataset: [dataset], ...(sink ? { sink } : {}) });
    this.pendingCommand = undefined;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0];
    return Buffer.concat(this.chunks).subarray(0, n);
  }

  /** Drops n bytes off the front without copying them. */
  private skip(n: number): void {
    let left = n;
    while (left > 0) {
      const c = this.chunks[0];
      if (c.length <= left) {
        left -= c.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    this.buffered -= n;
  }

  /** n bytes off the front; a copy only when they span chunks. */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0];
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

  private deliver(message: Message): void {
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve(message);
    else this.queued.push(message);
  }

  private fail(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    // A dataset cut off mid-way: nobody will take it.
    void Promise.resolve(this.sink?.discard()).catch(() => undefined);
    this.sink = undefined;
    this.failure = error;
    for (const w of this.waiting.splice(0)) w.reject(error);
    this.onClose(error);
  }

  /**
   * The next message, or a rejection when the link dies or `timeoutMs` passes. A message's
   * dataset is only valid until the next call (its buffer is reused): copy what you keep.
   */
  nextMessage(timeoutMs: number): Promise<Message> {
    const queued = this.queued.shift();
    if (queued) return Promise.resolve(queued);
    // Nothing delivered is still unread: the caller is done with the last dataset.
    this.datasetHeld = false;
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const entry = {
        resolve: (m: Message) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
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
   * The dataset is encoded and written a slice (~1 MB) at a time, waiting for the socket to
   * drain, so the peer receives while we encode; all of an 18 MB object encoded before the first
   * byte left was ~12 ms a object of idle wire here. The slices share one buffer kept for the
   * association: every request waits for its response, by which time the peer has read the
   * whole message, so the buffer is free again (a fresh 18 MB buffer cost ~10 ms of page faults).
   */
  async sendMessage(
    contextId: number,
    command: Command,
    dataset: readonly Buffer[] | FileRange | undefined,
    maxPduLength: number,
  ): Promise<void> {
    this.write(encodePData(contextId, true, encodeCommand(command), maxPduLength));
    if (!dataset) return;
    if (!Array.isArray(dataset)) {
      await this.sendFileRange(contextId, dataset as FileRange, maxPduLength);
      return;
    }
    const total = (dataset as readonly Buffer[]).reduce((n, b) => n + b.length, 0);
    const room = pduRoom(maxPduLength);
    const sliceBytes = room * Math.max(1, Math.floor(SLICE_BYTES / room));
    const encodedSize = total + 12 * Math.max(1, Math.ceil(total / room));
    if (!this.scratch || this.scratch.length < encodedSize) this.scratch = Buffer.allocUnsafe(encodedSize);
    let at = 0;
    let part = 0;
    let offset = 0;
    let sent = 0;
    do {
      const slice: Buffer[] = [];
      for (let need = Math.min(sliceBytes, total - sent); need > 0;) {
        const current = (dataset as readonly Buffer[])[part];
        const take = Math.min(need, current.length - offset);
        slice.push(current.subarray(offset, offset + take));
        need -= take;
        offset += take;
        sent += take;
        if (offset === current.length) {
          part += 1;
          offset = 0;
        }
      }
      const [encoded] = encodePData(contextId, false, slice, maxPduLength, this.scratch.subarray(at), sent === total);
      at += encoded.length;
      if (this.closed) return;
      if (!this.socket.write(encoded) && sent < total) await this.drained();
    } while (sent < total);
  }

  /**
   * A dataset straight from a file, a slice at a time while the previous slice is on the wire.
   * Each slice is read with one readv into the PDUs' data slots of the association's buffer, so
   * the bytes are copied once, from the page cache; reading the whole object first kept the wire
   * idle ~7 ms per 18 MB object, and copying it into PDUs afterwards cost another ~7 ms here.
   */
  private async sendFileRange(contextId: number, range: FileRange, maxPduLength: number): Promise<void> {
    const room = pduRoom(maxPduLength);
    const pdusPerSlice = Math.max(1, Math.floor(SLICE_BYTES / room));
    const encodedSize = range.length + 12 * Math.max(1, Math.ceil(range.length / room));
    if (!this.scratch || this.scratch.length < encodedSize) this.scratch = Buffer.allocUnsafe(encodedSize);
    const out = this.scratch;
    const fd = fs.openSync(range.path, 'r');
    try {
      let at = 0;
      let sent = 0;
      do {
        const sliceStart = at;
        const slots: Buffer[] = [];
        for (let k = 0; k < pdusPerSlice && (sent < range.length || (sent === 0 && k === 0)); k += 1) {
          const size = Math.min(room, range.length - sent);
          sent += size;
          out[at] = PDU.P_DATA;
          out[at + 1] = 0;
          out.writeUInt32BE(size + 6, at + 2);
          out.writeUInt32BE(size + 2, at + 6);
          out[at + 10] = contextId;
          out[at + 11] = sent === range.length ? 2 : 0;
          slots.push(out.subarray(at + 12, at + 12 + size));
          at += 12 + size;
        }
        readSlots(fd, slots, range.offset + sent - slots.reduce((n, b) => n + b.length, 0), range.path);
        if (this.closed) return;
        if (!this.socket.write(out.subarray(sliceStart, at)) && sent < range.length) await this.drained();
      } while (sent < range.length);
    } finally {
      fs.closeSync(fd);
    }
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  private scratch: Buffer | undefined;

  /** The peer aborted (A-ABORT): whoever waits for a message learns why at once, and the connection goes. */
  aborted(reason: string): void {
    this.fail(new Error(reason));
    this.socket.destroy();
  }

  abort(): void {
    if (!this.closed) this.socket.end(encodeAbort());
    this.socket.destroySoon();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

/** Fills `slots` with the file's bytes from `position` on (readv, continued where a short read stopped). */
function readSlots(fd: number, slots: Buffer[], position: number, file: string): void {
  let pending = slots.filter((b) => b.length > 0);
  while (pending.length > 0) {
    let n = fs.readvSync(fd, pending, position);
    if (n === 0) throw new Error(`${file} ended before its dataset did`);
    position += n;
    while (pending.length > 0 && n >= pending[0].length) n -= pending.shift()!.length;
    if (n > 0) pending = [pending[0].subarray(n), ...pending.slice(1)];
  }
}
