/**
 * The lottery's domain: what a bet is, when it is valid, and when it wins.
 *
 * {@linkcode validateBet} runs on the server for every bet received, so it is
 * written for speed: character-code loops instead of regular expressions, and
 * date checks done with arithmetic on the text instead of `Date` objects.
 *
 * {@linkcode PackedBets} carries many bets in one byte buffer, with no object
 * and no string a bet: the form the hot paths pass along (agency file to
 * BET_BATCH frame on the client, frame to CSV row on the server), checked by
 * {@linkcode firstInvalidBet}, which gives exactly `validateBet`'s verdict.
 *
 * @module
 */

import { decodeUtf8 } from "../util/mod.ts";

/** The number drawn by the lottery: a bet on it wins. */
export const LOTTERY_WINNER_NUMBER = 7574;

/** Highest number a bet may be placed on. */
export const MAX_BET_NUMBER = 99999;

/** One bet placed by a person at an agency. */
export interface Bet {
  /** Agency that took the bet, 1..agencies. */
  agency: number;
  /** Bettor's first name(s), e.g. `"José María"`. */
  firstName: string;
  /** Bettor's last name(s), e.g. `"Núñez"`. */
  lastName: string;
  /** National identity document: 1-10 ASCII digits. */
  document: string;
  /** Date of birth, `YYYY-MM-DD`. */
  birthdate: string;
  /** Number bet on, 0..99999. */
  number: number;
}

/** Options of {@linkcode validateBet}. */
export interface ValidateBetOptions {
  /** Number of agencies: a bet's agency must be in 1..agencies. */
  agencies: number;
  /** Day against which birthdates are checked (its UTC date). @default now */
  today?: Date;
}

/** Oldest birth year accepted. */
const MIN_BIRTH_YEAR = 1900;
/** Longest document accepted, in digits. */
const MAX_DOCUMENT_DIGITS = 10;
/** Longest value shown in a reason, in UTF-16 units, before it is cut with an ellipsis. */
const MAX_SHOWN_VALUE = 60;
const MS_PER_DAY = 86_400_000;

const CHAR_0 = 0x30;
const CHAR_9 = 0x39;
const CHAR_DASH = 0x2d;

/**
 * Checks a bet against the lottery's rules.
 *
 * @returns `undefined` when the bet is valid, else a one-line reason naming the
 * first bad field and its value, e.g.
 * `Invalid document: "12a" (expected 1-10 digits)`.
 */
export function validateBet(bet: Bet, options: ValidateBetOptions): string | undefined {
  const agencies = options.agencies;
  const agency = bet.agency;
  if (!Number.isInteger(agency) || agency < 1 || agency > agencies) {
    return `Invalid agency: ${show(agency)} (expected an integer 1..${agencies})`;
  }
  if (!isName(bet.firstName)) {
    return `Invalid first_name: ${show(bet.firstName)} (${NAME_EXPECTATION})`;
  }
  if (!isName(bet.lastName)) {
    return `Invalid last_name: ${show(bet.lastName)} (${NAME_EXPECTATION})`;
  }
  if (!isDocument(bet.document)) {
    return `Invalid document: ${show(bet.document)} (expected 1-${MAX_DOCUMENT_DIGITS} digits)`;
  }
  if (!isBirthdate(bet.birthdate, todayText(options.today))) {
    return `Invalid birthdate: ${
      show(bet.birthdate)
    } (expected a real YYYY-MM-DD date from ${MIN_BIRTH_YEAR} on, not in the future)`;
  }
  const number = bet.number;
  if (!Number.isInteger(number) || number < 0 || number > MAX_BET_NUMBER) {
    return `Invalid number: ${show(number)} (expected an integer 0..${MAX_BET_NUMBER})`;
  }
  return undefined;
}

/** Whether the bet won the lottery: it was placed on {@linkcode LOTTERY_WINNER_NUMBER}. */
export function hasWon(bet: Bet): boolean {
  return bet.number === LOTTERY_WINNER_NUMBER;
}

const NAME_EXPECTATION = "expected non-empty text without control characters";

/** Shows a value in a reason: strings quoted and escaped (so the reason stays one line), long ones cut. */
function show(value: unknown): string {
  if (typeof value !== "string") return String(value);
  const cut = value.length > MAX_SHOWN_VALUE ? value.slice(0, MAX_SHOWN_VALUE) + "…" : value;
  return JSON.stringify(cut);
}

/** Non-empty after trimming, no C0/C1 control characters (U+0000-U+001F, U+007F-U+009F). */
function isName(value: unknown): boolean {
  if (typeof value !== "string") return false;
  let visible = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return false;
    // Anything but a plain space counts as visible, except the Unicode spaces trim() removes.
    if (!visible && c !== 0x20 && !isTrimmedSpace(c)) visible = true;
  }
  return visible;
}

/** Whitespace that `String.prototype.trim` removes, above U+0020 (controls are rejected earlier). */
function isTrimmedSpace(c: number): boolean {
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 ||
    c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

function isDocument(value: unknown): boolean {
  if (typeof value !== "string") return false;
  const length = value.length;
  if (length < 1 || length > MAX_DOCUMENT_DIGITS) return false;
  for (let i = 0; i < length; i++) {
    const c = value.charCodeAt(i);
    if (c < CHAR_0 || c > CHAR_9) return false;
  }
  return true;
}

/** Value of the ASCII digit at `index`, or -1 when it is not a digit. */
function digitAt(text: string, index: number): number {
  const c = text.charCodeAt(index);
  return c >= CHAR_0 && c <= CHAR_9 ? c - CHAR_0 : -1;
}

/** A real `YYYY-MM-DD` date, year 1900 or later, not after `today` (also `YYYY-MM-DD`). */
function isBirthdate(value: unknown, today: string): boolean {
  if (typeof value !== "string" || value.length !== 10) return false;
  if (value.charCodeAt(4) !== CHAR_DASH || value.charCodeAt(7) !== CHAR_DASH) return false;
  const y0 = digitAt(value, 0),
    y1 = digitAt(value, 1),
    y2 = digitAt(value, 2),
    y3 = digitAt(value, 3);
  const m0 = digitAt(value, 5), m1 = digitAt(value, 6);
  const d0 = digitAt(value, 8), d1 = digitAt(value, 9);
  if ((y0 | y1 | y2 | y3 | m0 | m1 | d0 | d1) < 0) return false;
  const year = y0 * 1000 + y1 * 100 + y2 * 10 + y3;
  if (!isBirthDay(year, m0 * 10 + m1, d0 * 10 + d1)) return false;
  // Both are zero-padded YYYY-MM-DD, so text order is date order.
  return value <= today;
}

/** Whether the numbers make a day of the calendar from {@linkcode MIN_BIRTH_YEAR} on. */
function isBirthDay(year: number, month: number, day: number): boolean {
  if (year < MIN_BIRTH_YEAR || month < 1 || month > 12 || day < 1) return false;
  return day <= daysInMonth(year, month);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

// Cache of the last day asked for, so that the hot path allocates nothing.
let cachedDay = Number.NaN;
let cachedDayText = "";

/** `YYYY-MM-DD` of the UTC day of `today` (default now), computed once a day. */
function todayText(today: Date | undefined): string {
  const ms = today === undefined ? Date.now() : today.getTime();
  const day = Math.floor(ms / MS_PER_DAY);
  if (day !== cachedDay) {
    cachedDayText = Number.isNaN(day) ? "" : new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
    cachedDay = day;
  }
  return cachedDayText;
}

// ---------------------------------------------------------------------------
// Packed bets

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
