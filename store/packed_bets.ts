/**
 * {@linkcode PackedBets} carries many bets in one byte buffer, with no object
 * and no string a bet: the form the hot paths pass along (agency file to
 * BET_BATCH frame on the client, frame to CSV row on the server), checked by
 * {@linkcode PackedBetRules} and {@linkcode firstInvalidBet}, which give
 * exactly `validateBet`'s verdict on the bytes.
 *
 * @module
 */

import { decodeUtf8 } from "../util/mod.ts";
import { type Bet, MAX_BET_NUMBER, type ValidateBetOptions } from "./bet.ts";
import { isBirthDay, isTrimmedSpace, MAX_DOCUMENT_DIGITS, todayText } from "./_bet_rules.ts";

// Byte values as this module's own constants: V8 folds those in hot loops, not imported
// ones (measured: csvField() about 30% slower with the constants imported).
const CHAR_0 = 0x30, CHAR_9 = 0x39, CHAR_DASH = 0x2d;

/** Index of each string field of a packed bet, in {@linkcode PackedBets.fields}. */
export const PackedField = {
  /** `firstName`, UTF-8. */
  firstName: 0,
  /** `lastName`, UTF-8. */
  lastName: 1,
  /** `document`, ASCII digits once valid. */
  document: 2,
  /** `birthdate`, `YYYY-MM-DD` once valid. */
  birthdate: 3,
} as const;

/** Offsets a bet takes in {@linkcode PackedBets.fields}: start and end of 4 string fields. */
export const PACKED_FIELD_SLOTS = 8;

/**
 * Bets packed in one byte buffer: no object and no string a bet. The arrays
 * may be longer than `count` (buffers reused from one batch to the next).
 */
export interface PackedBets {
  /** How many bets. */
  count: number;
  /** Bytes holding the UTF-8 text of every string field (valid UTF-8). */
  bytes: Uint8Array;
  /**
   * Where each string field is in `bytes`: bet `i`'s field `f` ({@linkcode PackedField})
   * is `bytes[fields[8 * i + 2 * f] .. fields[8 * i + 2 * f + 1])`.
   */
  fields: Int32Array;
  /** Each bet's number. */
  numbers: Float64Array;
  /** Each bet's agency. */
  agencies: Float64Array;
}

/** Options of {@linkcode packBets}. */
export interface PackBetsOptions {
  /** Reuses these arrays when they are large enough. */
  into?: PackedBets;
}

const packEncoder = new TextEncoder();

/** Packs bets (tests, benchmarks, the rare slow path); {@linkcode unpackBet} reverses it. */
export function packBets(bets: readonly Bet[], options: PackBetsOptions = {}): PackedBets {
  const count = bets.length;
  const text: string[] = [];
  for (const bet of bets) text.push(bet.firstName, bet.lastName, bet.document, bet.birthdate);
  const packed = packedCapacity(options.into, count);
  const fields = packed.fields;
  let offset = 0;
  const parts = text.map((value) => packEncoder.encode(value));
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  for (let i = 0; i < parts.length; i++) {
    bytes.set(parts[i], offset);
    fields[2 * i] = offset;
    offset += parts[i].length;
    fields[2 * i + 1] = offset;
  }
  for (let i = 0; i < count; i++) {
    packed.numbers[i] = bets[i].number;
    packed.agencies[i] = bets[i].agency;
  }
  packed.count = count;
  packed.bytes = bytes;
  return packed;
}

/** `into` when its arrays hold `count` bets, else new arrays (of at least `count`). */
export function packedCapacity(into: PackedBets | undefined, count: number): PackedBets {
  if (
    into !== undefined && into.numbers.length >= count && into.agencies.length >= count &&
    into.fields.length >= count * PACKED_FIELD_SLOTS
  ) {
    return into;
  }
  const size = Math.max(count, 16);
  return {
    count: 0,
    bytes: into?.bytes ?? new Uint8Array(0),
    fields: new Int32Array(size * PACKED_FIELD_SLOTS),
    numbers: new Float64Array(size),
    agencies: new Float64Array(size),
  };
}

/** Bet `index` of `bets` as a {@linkcode Bet} object. */
export function unpackBet(bets: PackedBets, index: number): Bet {
  const { bytes, fields } = bets;
  const at = index * PACKED_FIELD_SLOTS;
  return {
    agency: bets.agencies[index],
    firstName: decodeUtf8(bytes, fields[at], fields[at + 1]),
    lastName: decodeUtf8(bytes, fields[at + 2], fields[at + 3]),
    document: decodeAscii(bytes, fields[at + 4], fields[at + 5]),
    birthdate: decodeAscii(bytes, fields[at + 6], fields[at + 7]),
    number: bets.numbers[index],
  };
}

/** `document` of bet `index` (what winners are told), as a string. */
export function packedDocument(bets: PackedBets, index: number): string {
  const at = index * PACKED_FIELD_SLOTS + 2 * PackedField.document;
  return decodeAscii(bets.bytes, bets.fields[at], bets.fields[at + 1]);
}

function decodeAscii(bytes: Uint8Array, start: number, end: number): string {
  let text = "";
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    if (c >= 0x80) return decodeUtf8(bytes, start, end);
    text += String.fromCharCode(c);
  }
  return text;
}

/**
 * {@linkcode validateBet}'s rules on packed bets: the bytes are checked, no
 * string is made. Made once for a batch (it holds today's date).
 *
 * ```ts ignore
 * const rules = new PackedBetRules({ agencies: 5 });
 * for (let i = 0; i < bets.count; i++) if (!rules.accepts(bets, i)) return i;
 * ```
 */
export class PackedBetRules {
  readonly #agencies: number;
  readonly #today: Uint8Array;

  /** Rules for `options.agencies` agencies, birthdates up to `options.today` (default now). */
  constructor(options: ValidateBetOptions) {
    this.#agencies = options.agencies;
    this.#today = todayBytes(options.today);
  }

  /**
   * Whether `validateBet` accepts bet `index` of `bets`. The string fields must be valid
   * UTF-8 (the frame decoder and the CSV reader check it).
   */
  accepts(bets: PackedBets, index: number): boolean {
    const agency = bets.agencies[index];
    if (!Number.isInteger(agency) || agency < 1 || agency > this.#agencies) return false;
    const { bytes, fields } = bets;
    const at = index * PACKED_FIELD_SLOTS;
    const number = bets.numbers[index];
    return isNameBytes(bytes, fields[at], fields[at + 1]) &&
      isNameBytes(bytes, fields[at + 2], fields[at + 3]) &&
      isDocumentBytes(bytes, fields[at + 4], fields[at + 5]) &&
      isBirthdateBytes(bytes, fields[at + 6], fields[at + 7], this.#today) &&
      Number.isInteger(number) && number >= 0 && number <= MAX_BET_NUMBER;
  }
}

/**
 * Index of the first bet of `bets` that {@linkcode validateBet} rejects, or -1
 * when every one is valid, checked on the bytes ({@linkcode PackedBetRules}).
 * For the reason, call `validateBet` on {@linkcode unpackBet} of that index.
 */
export function firstInvalidBet(bets: PackedBets, options: ValidateBetOptions): number {
  const rules = new PackedBetRules(options);
  for (let i = 0; i < bets.count; i++) if (!rules.accepts(bets, i)) return i;
  return -1;
}

/** The name rule on valid UTF-8: no C0, DEL or C1 control, something besides trimmed spaces. */
function isNameBytes(bytes: Uint8Array, start: number, end: number): boolean {
  let visible = false;
  let i = start;
  while (i < end) {
    const c = bytes[i];
    if (c < 0x80) {
      if (c < 0x20 || c === 0x7f) return false;
      if (c !== 0x20) visible = true;
      i++;
    } else if (c < 0xe0) {
      const c1 = bytes[i + 1];
      if (c === 0xc2) {
        if (c1 < 0xa0) return false; // U+0080-U+009F: C1 controls
        if (c1 !== 0xa0) visible = true; // U+00A0 is a space trim() removes
      } else {
        visible = true;
      }
      i += 2;
    } else if (c < 0xf0) {
      if (!visible) {
        const code = ((c & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f);
        if (!isTrimmedSpace(code)) visible = true;
      }
      i += 3;
    } else {
      visible = true;
      i += 4;
    }
  }
  return visible;
}

/** The document rule on bytes: 1-10 ASCII digits. */
function isDocumentBytes(bytes: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  if (length < 1 || length > MAX_DOCUMENT_DIGITS) return false;
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    if (c < CHAR_0 || c > CHAR_9) return false;
  }
  return true;
}

function digitByte(c: number): number {
  return c >= CHAR_0 && c <= CHAR_9 ? c - CHAR_0 : -1;
}

/** The birthdate rule on bytes: a real `YYYY-MM-DD` from 1900 on, not after `today`. */
function isBirthdateBytes(
  bytes: Uint8Array,
  start: number,
  end: number,
  today: Uint8Array,
): boolean {
  if (end - start !== 10) return false;
  if (bytes[start + 4] !== CHAR_DASH || bytes[start + 7] !== CHAR_DASH) return false;
  const y0 = digitByte(bytes[start]),
    y1 = digitByte(bytes[start + 1]),
    y2 = digitByte(bytes[start + 2]),
    y3 = digitByte(bytes[start + 3]);
  const m0 = digitByte(bytes[start + 5]), m1 = digitByte(bytes[start + 6]);
  const d0 = digitByte(bytes[start + 8]), d1 = digitByte(bytes[start + 9]);
  if ((y0 | y1 | y2 | y3 | m0 | m1 | d0 | d1) < 0) return false;
  const year = y0 * 1000 + y1 * 100 + y2 * 10 + y3;
  if (!isBirthDay(year, m0 * 10 + m1, d0 * 10 + d1)) return false;
  // Text order is date order: compare with today byte by byte (an empty today rejects all).
  if (today.length !== 10) return false;
  for (let k = 0; k < 10; k++) {
    const a = bytes[start + k];
    const b = today[k];
    if (a !== b) return a < b;
  }
  return true;
}

let cachedTodayText = "";
let cachedTodayBytes = new Uint8Array(0);

/** `YYYY-MM-DD` of the UTC day of `today` (default now) as ASCII bytes. */
function todayBytes(today?: Date): Uint8Array {
  const text = todayText(today);
  if (text !== cachedTodayText) {
    cachedTodayBytes = packEncoder.encode(text);
    cachedTodayText = text;
  }
  return cachedTodayBytes;
}
