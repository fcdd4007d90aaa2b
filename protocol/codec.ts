/**
 * Pure byte helpers over `Uint8Array`: a {@linkcode ByteWriter} that fills a pre-sized
 * buffer and a {@linkcode ByteCursor} that reads a payload, both bounds-checked. Integers
 * are big-endian; `str8` is a u8 byte length followed by that many bytes.
 *
 * Writing bad input throws `RangeError` naming the field; reading a bad payload throws
 * {@linkcode ProtocolError} (code MALFORMED).
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import { MAX_STRING_BYTES, toHexByte } from "./types.ts";
import { decodeUtf8 } from "../util/mod.ts";

const encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is text like any other, not a byte order mark to drop.
const fatalDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Number of bytes `text` takes in UTF-8, as `TextEncoder` writes it (a lone surrogate
 * becomes U+FFFD, 3 bytes).
 */
export function utf8ByteLength(text: string): number {
  const length = text.length;
  let size = length; // one byte a UTF-16 unit, plus the extra bytes below
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      size += 1;
    } else {
      size += 2;
      // A surrogate pair is 2 units and 4 bytes: skip the low half, already counted once.
      if (c <= 0xdbff && c >= 0xd800 && i + 1 < length) {
        const next = text.charCodeAt(i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) i++;
      }
    }
  }
  return size;
}

function checkUint(value: number, max: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(
      `Field out of range: ${field} is ${
        typeof value === "number" ? value : JSON.stringify(value)
      } ` +
        `(expected an integer 0..${max})`,
    );
  }
}

function tooLong(field: string, size: number): RangeError {
  return new RangeError(`Field too long: ${field} is ${size} bytes (max ${MAX_STRING_BYTES})`);
}

/**
 * Checks that `text` fits a UTF-8 `str8` field and returns its byte length.
 * @throws {RangeError} `Field too long: firstName is 300 bytes (max 255)`
 */
export function str8Size(text: string, field: string): number {
  const size = utf8ByteLength(text);
  if (size > MAX_STRING_BYTES) throw tooLong(field, size);
  return size;
}

/**
 * Checks that `text` is ASCII and fits an ASCII `str8` field, and returns its byte length.
 * @throws {RangeError} naming the field when it is too long or not ASCII
 */
export function ascii8Size(text: string, field: string): number {
  const length = text.length;
  if (length > MAX_STRING_BYTES) throw tooLong(field, utf8ByteLength(text));
  for (let i = 0; i < length; i++) {
    if (text.charCodeAt(i) >= 0x80) {
      throw new RangeError(
        `Field not ASCII: ${field} is ${JSON.stringify(text)} (expected ASCII characters only)`,
      );
    }
  }
  return length;
}

/** Writes big-endian integers and strings into one buffer allocated up front. */
export class ByteWriter {
  #bytes: Uint8Array;
  #offset = 0;

  /** Allocates a zeroed buffer of exactly `size` bytes. */
  constructor(size: number) {
    this.#bytes = new Uint8Array(size);
  }

  /** Bytes written so far. */
  get offset(): number {
    return this.#offset;
  }

  /** Bytes still free. */
  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  /** Writes a u8; RangeError naming `field` when `value` is not an integer 0..255. */
  u8(value: number, field: string): void {
    checkUint(value, 0xff, field);
    this.#need(1, field);
    this.#bytes[this.#offset++] = value;
  }

  /** Writes a big-endian u16; RangeError naming `field` when out of range. */
  u16(value: number, field: string): void {
    checkUint(value, 0xffff, field);
    this.#need(2, field);
    const bytes = this.#bytes;
    const o = this.#offset;
    bytes[o] = value >>> 8;
    bytes[o + 1] = value;
    this.#offset = o + 2;
  }

  /** Writes a big-endian u32; RangeError naming `field` when out of range. */
  u32(value: number, field: string): void {
    checkUint(value, 0xffffffff, field);
    this.#need(4, field);
    const bytes = this.#bytes;
    const o = this.#offset;
    bytes[o] = value >>> 24;
    bytes[o + 1] = value >>> 16;
    bytes[o + 2] = value >>> 8;
    bytes[o + 3] = value;
    this.#offset = o + 4;
  }

  /** Writes a u8 byte length and `text` in UTF-8; RangeError when over 255 bytes. */
  str8(text: string, field: string): void {
    const bytes = this.#bytes;
    const start = this.#offset + 1;
    const length = text.length;
    if (length <= MAX_STRING_BYTES && start + length <= bytes.length) {
      let i = 0;
      for (; i < length; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) break;
        bytes[start + i] = c;
      }
      if (i === length) {
        bytes[start - 1] = length;
        this.#offset = start + length;
        return;
      }
    }
    const size = str8Size(text, field);
    this.#need(1 + size, field);
    encoder.encodeInto(text, bytes.subarray(start, start + size));
    bytes[start - 1] = size;
    this.#offset = start + size;
  }

  /** Writes a u8 byte length and `text` in ASCII; RangeError when too long or not ASCII. */
  ascii8(text: string, field: string): void {
    const size = ascii8Size(text, field);
    this.#need(1 + size, field);
    const bytes = this.#bytes;
    const start = this.#offset + 1;
    for (let i = 0; i < size; i++) bytes[start + i] = text.charCodeAt(i);
    bytes[start - 1] = size;
    this.#offset = start + size;
  }

  /** Writes `text` in UTF-8 with no length prefix (a payload's "rest" field). */
  text(text: string, field: string): void {
    const size = utf8ByteLength(text);
    this.#need(size, field);
    const start = this.#offset;
    encoder.encodeInto(text, this.#bytes.subarray(start, start + size));
    this.#offset = start + size;
  }

  /** Copies raw bytes. */
  bytes(source: Uint8Array, field: string): void {
    this.#need(source.length, field);
    this.#bytes.set(source, this.#offset);
    this.#offset += source.length;
  }

  /** Returns the buffer; RangeError if it was not filled exactly (a sizing bug). */
  finish(): Uint8Array {
    if (this.#offset !== this.#bytes.length) {
      throw new RangeError(
        `Buffer not filled: wrote ${this.#offset} of ${this.#bytes.length} bytes`,
      );
    }
    return this.#bytes;
  }

  #need(size: number, field: string): void {
    const left = this.#bytes.length - this.#offset;
    if (size > left) {
      throw new RangeError(
        `Buffer overflow: ${field} needs ${size} bytes at offset ${this.#offset}, ${left} left`,
      );
    }
  }
}

/** Options of {@linkcode ByteCursor}. */
export interface ByteCursorOptions {
  /**
   * What is being read, used in error messages, e.g. `"BET_BATCH payload"`.
   * @default {"payload"}
   */
  context?: string;
}

/**
 * Reads big-endian integers and strings from a payload, bounds-checking every read
 * before it happens. Throws {@linkcode ProtocolError} (MALFORMED) on short or bad input.
 */
export class ByteCursor {
  #bytes: Uint8Array;
  #offset = 0;
  #context: string;

  /** Reads `bytes` from its start; `bytes` is not copied and must not change meanwhile. */
  constructor(bytes: Uint8Array, options: ByteCursorOptions = {}) {
    this.#bytes = bytes;
    this.#context = options.context ?? "payload";
  }

  /** Bytes read so far. */
  get offset(): number {
    return this.#offset;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  /** Reads a u8. */
  u8(field: string): number {
    this.#need(1, field);
    return this.#bytes[this.#offset++];
  }

  /** Reads a big-endian u16. */
  u16(field: string): number {
    this.#need(2, field);
    const bytes = this.#bytes;
    const o = this.#offset;
    this.#offset = o + 2;
    return (bytes[o] << 8) | bytes[o + 1];
  }

  /** Reads a big-endian u32. */
  u32(field: string): number {
    this.#need(4, field);
    const bytes = this.#bytes;
    const o = this.#offset;
    this.#offset = o + 4;
    return bytes[o] * 0x1000000 + ((bytes[o + 1] << 16) | (bytes[o + 2] << 8) | bytes[o + 3]);
  }

  /** Reads exactly `size` raw bytes, as a copy. */
  bytes(size: number, field: string): Uint8Array {
    this.#need(size, field);
    const start = this.#offset;
    this.#offset = start + size;
    return this.#bytes.slice(start, start + size);
  }

  /** Reads a u8 byte length and that many bytes of strict UTF-8. */
  str8(field: string): string {
    const start = this.#stringStart(field);
    const end = this.#offset;
    try {
      return decodeUtf8(this.#bytes, start, end);
    } catch (error) {
      throw new ProtocolError(
        `Invalid UTF-8 in ${this.#context}: ${field} at offset ${start}`,
        { cause: error },
      );
    }
  }

  /** Reads a u8 byte length and that many bytes of ASCII. */
  ascii8(field: string): string {
    const start = this.#stringStart(field);
    const end = this.#offset;
    const bytes = this.#bytes;
    let text = "";
    for (let i = start; i < end; i++) {
      const c = bytes[i];
      if (c >= 0x80) {
        throw new ProtocolError(
          `Invalid ASCII in ${this.#context}: ${field} has byte ${toHexByte(c)} at offset ${i}`,
        );
      }
      text += String.fromCharCode(c);
    }
    return text;
  }

  /** Reads all remaining bytes as strict UTF-8 (a payload's "rest" field). */
  text(field: string): string {
    const start = this.#offset;
    this.#offset = this.#bytes.length;
    if (start === this.#bytes.length) return ""; // every OK ack: no decoder call
    try {
      return fatalDecoder.decode(this.#bytes.subarray(start));
    } catch (error) {
      throw new ProtocolError(
        `Invalid UTF-8 in ${this.#context}: ${field} at offset ${start}`,
        { cause: error },
      );
    }
  }

  /** Throws {@linkcode ProtocolError} when bytes are left after the last field. */
  expectEnd(): void {
    const left = this.#bytes.length - this.#offset;
    if (left !== 0) {
      throw new ProtocolError(
        `Trailing bytes in ${this.#context}: ${left} after offset ${this.#offset} ` +
          `(payload ${this.#bytes.length} bytes)`,
      );
    }
  }

  /** Reads a str8 length, checks the bytes are there, moves past them, returns their start. */
  #stringStart(field: string): number {
    const bytes = this.#bytes;
    const at = this.#offset;
    if (at >= bytes.length) {
      throw new ProtocolError(
        `Truncated ${this.#context}: ${field} length needs 1 byte at offset ${at}, 0 left`,
      );
    }
    const size = bytes[at];
    const start = at + 1;
    const left = bytes.length - start;
    if (size > left) {
      throw new ProtocolError(
        `Truncated ${this.#context}: ${field} declares ${size} bytes at offset ${start}, ` +
          `${left} left`,
      );
    }
    this.#offset = start + size;
    return start;
  }

  #need(size: number, field: string): void {
    const left = this.#bytes.length - this.#offset;
    if (size > left) {
      throw new ProtocolError(
        `Truncated ${this.#context}: ${field} needs ${size} bytes at offset ${this.#offset}, ` +
          `${left} left`,
      );
    }
  }
}
