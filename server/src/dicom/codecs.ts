import { createRequire } from 'node:module';
import { Decoder as LosslessJpegDecoder } from 'jpeg-lossless-decoder-js';

/**
 * The compressed transfer syntaxes are decoded by the wasm builds of the Cornerstone codecs
 * (CharLS, OpenJPEG, OpenJPH, libjpeg-turbo) and by jpeg-lossless-decoder-js. The `/wasmjs`
 * builds are used: OpenJPEG's pure-JS build is ~7× slower (library notes). Each module is
 * instantiated once per process, on first use.
 */
const require = createRequire(import.meta.url);

export interface CodecFrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
  isUsingColorTransform?: boolean;
}

interface WasmCodec {
  getEncodedBuffer(length?: number): Uint8Array;
  getDecodedBuffer(frameInfo?: CodecFrameInfo): Uint8Array;
  getFrameInfo?(): CodecFrameInfo;
  readHeader?(): void;
  decode?(): void;
  encode?(): void;
  delete(): void;
}
type CodecClass = new () => WasmCodec;
type WasmModule = Record<string, CodecClass>;

const MODULES = {
  charls: '@cornerstonejs/codec-charls/wasmjs',
  openjpeg: '@cornerstonejs/codec-openjpeg/wasmjs',
  openjph: '@cornerstonejs/codec-openjph/wasmjs',
  libjpeg: '@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs',
} as const;
export type WasmCodecName = keyof typeof MODULES;

const loaded = new Map<WasmCodecName, Promise<WasmModule>>();

function wasmModule(name: WasmCodecName): Promise<WasmModule> {
  let module = loaded.get(name);
  if (!module) {
    const factory = require(MODULES[name]) as (options: object) => Promise<WasmModule>;
    // OpenJPEG reports progress on stdout; a server's stdout is its log.
    module = factory({ print: () => undefined, printErr: () => undefined });
    loaded.set(name, module);
  }
  return module;
}

const DECODERS: Record<WasmCodecName, string> = {
  charls: 'JpegLSDecoder',
  openjpeg: 'J2KDecoder',
  openjph: 'HTJ2KDecoder',
  libjpeg: 'JPEGDecoder',
};
const ENCODERS: Record<WasmCodecName, string> = {
  charls: 'JpegLSEncoder',
  openjpeg: 'J2KEncoder',
  openjph: 'HTJ2KEncoder',
  libjpeg: 'JPEGEncoder',
};

export interface DecodedCodecFrame {
  info: CodecFrameInfo;
  /** A copy (the codec's own buffer lives in wasm memory and is freed here). */
  bytes: Uint8Array;
}

/** Decodes one compressed frame; codec errors come back as thrown Errors (wasm aborts included). */
export async function wasmDecode(name: WasmCodecName, encoded: Uint8Array): Promise<DecodedCodecFrame> {
  const Codec = (await wasmModule(name))[DECODERS[name]];
  const decoder = new Codec();
  try {
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    decoder.readHeader?.();
    decoder.decode!();
    const info = decoder.getFrameInfo!();
    return { info: { ...info }, bytes: decoder.getDecodedBuffer().slice() };
  } catch (error) {
    // An abort (bad input reaching a C assert, memory growth refused) leaves an Emscripten module
    // unusable: forget it so the next frame gets a fresh instance (the fuzz test checks this).
    if (error instanceof WebAssembly.RuntimeError || /abort/i.test(String(error))) loaded.delete(name);
    // Emscripten throws numbers (exception pointers) or strings; give callers an Error with words.
    throw error instanceof Error ? error : new Error(`${name} could not decode the frame (${String(error)})`);
  } finally {
    try {
      decoder.delete();
    } catch {
      loaded.delete(name); // freeing failed: the instance is in an unknown state
    }
  }
}

/** Encodes one frame: used by the tests to build compressed fixtures and by writers that compress. */
export async function wasmEncode(
  name: WasmCodecName,
  info: CodecFrameInfo,
  pixels: Uint8Array,
  configure?: (encoder: WasmCodec & Record<string, unknown>) => void,
): Promise<Uint8Array> {
  const Codec = (await wasmModule(name))[ENCODERS[name]];
  const encoder = new Codec();
  try {
    encoder.getDecodedBuffer({ isSigned: false, isUsingColorTransform: info.componentCount === 3, ...info }).set(pixels);
    configure?.(encoder as WasmCodec & Record<string, unknown>);
    encoder.encode!();
    return encoder.getEncodedBuffer().slice();
  } catch (error) {
    throw error instanceof Error ? error : new Error(`${name} could not encode the frame (${String(error)})`);
  } finally {
    encoder.delete();
  }
}

/**
 * T.81's predictor 7 is integer (Ra + Rb) >> 1; the library divides by 2 and, for 16-bit samples,
 * negative fractional sums then truncate the wrong way (463 wrong pixels in a 37×53 DCMTK file).
 */
class ExactLosslessJpegDecoder extends LosslessJpegDecoder {
  override select7(compOffset?: number): number {
    return (this.getPreviousX(compOffset) + this.getPreviousY(compOffset)) >> 1;
  }
}

/** JPEG lossless (processes 14 and 14 SV1): the one codec here that is plain JavaScript. */
export function decodeLosslessJpeg(encoded: Uint8Array, bytesPerSample: number): Uint8Array | Uint16Array {
  const decoder = new ExactLosslessJpegDecoder();
  // jpeg-lossless-decoder-js 2.1.2 drops the last sample when its final Huffman code shares a
  // read-ahead byte with the EOI marker (seen with DCMTK's predictor 6: the last pixel came back
  // 0). Padding zero bytes before EOI keeps the marker out of that byte; the decoder stops at the
  // frame's size, so the padding is never decoded as pixels.
  let end = encoded.length;
  while (end > 0 && encoded[end - 1] === 0) end -= 1; // fragments are padded to even length
  const hasEoi = end >= 2 && encoded[end - 2] === 0xff && encoded[end - 1] === 0xd9;
  const body = hasEoi ? end - 2 : end;
  const copy = new Uint8Array(body + 10);
  copy.set(encoded.subarray(0, body), 0);
  copy[body + 8] = 0xff;
  copy[body + 9] = 0xd9;
  return decoder.decode(copy.buffer, 0, copy.length, bytesPerSample);
}
