// jpeg-lossless-decoder-js 2.1 names a types file its package does not contain; this covers what we use.
declare module 'jpeg-lossless-decoder-js' {
  export class Decoder {
    constructor(buffer?: ArrayBuffer | null, numBytes?: number);
    select7(compOffset?: number): number;
    getPreviousX(compOffset?: number): number;
    getPreviousY(compOffset?: number): number;
    decode(buffer?: ArrayBuffer, offset?: number, length?: number, numBytes?: number): Uint8Array | Uint16Array;
  }
}
