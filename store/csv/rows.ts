/**
 * Store rows (`agency,first_name,last_name,document,birthdate,number\n`) made
 * from bets: {@linkcode betToCsvRow} from one `Bet` object (a string: the
 * reference the packed writers are checked against, and `BetStore.storeBets`'s
 * path), and two writers over {@linkcode PackedBets} that copy the bytes with
 * no string a bet: {@linkcode packedBetsToCsvRows} for any bets and
 * {@linkcode validCsvRows}, the server's path from a BET_BATCH frame to the
 * bytes it stores, which stops at the first bet `validateBet`'s rules refuse.
 *
 * @module
 */

import { PACKED_FIELD_SLOTS, PackedBetRules, type PackedBets } from "../packed_bets.ts";
import type { Bet, ValidateBetOptions } from "../bet.ts";
import { csvField } from "./format.ts";

// Byte values as this module's own constants: V8 folds those in hot loops, not imported
// ones (measured: csvField() about 30% slower with the constants imported).
const CHAR_QUOTE = 0x22, CHAR_COMMA = 0x2c, CHAR_CR = 0x0d, CHAR_LF = 0x0a, CHAR_0 = 0x30;

/** An agency-file row: `first_name,last_name,document,birthdate,number\n` (no agency). */
export function betToAgencyRow(bet: Bet): string {
  return `${csvField(bet.firstName)},${csvField(bet.lastName)},${csvField(bet.document)},${
    csvField(bet.birthdate)
  },${bet.number}\n`;
}

/** A store row: `agency,first_name,last_name,document,birthdate,number\n`. */
export function betToCsvRow(bet: Bet): string {
  return `${bet.agency},${csvField(bet.firstName)},${csvField(bet.lastName)},${
    csvField(bet.document)
  },${csvField(bet.birthdate)},${bet.number}\n`;
}

/**
 * The store rows of `bets`, byte for byte what {@linkcode betToCsvRow} writes
 * for each bet, in one new buffer, made without a string a bet.
 */
export function packedBetsToCsvRows(bets: PackedBets): Uint8Array {
  const { bytes, fields, numbers, agencies, count } = bets;
  const out = rowBuffer(bets);
  let o = 0;
  for (let i = 0; i < count; i++) {
    o = writeNumber(out, o, agencies[i]);
    const at = i * PACKED_FIELD_SLOTS;
    for (let f = 0; f < 8; f += 2) {
      out[o++] = CHAR_COMMA;
      o = writeField(out, o, bytes, fields[at + f], fields[at + f + 1]);
    }
    out[o++] = CHAR_COMMA;
    o = writeNumber(out, o, numbers[i]);
    out[o++] = CHAR_LF;
  }
  return out.slice(0, o);
}

/** What {@linkcode validCsvRows} made of a batch. */
export interface ValidCsvRows {
  /** The store rows of every bet, when all are valid. */
  rows: Uint8Array | undefined;
  /** Index of the first invalid bet (see `validateBet`), or -1. */
  invalid: number;
}

/**
 * Checks `bets` with `validateBet`'s rules (as `firstInvalidBet` does) and, when every
 * one is valid, makes their store rows (as {@linkcode packedBetsToCsvRows} does), in one
 * pass over the bets: the server's path from a BET_BATCH frame to the bytes it stores.
 */
export function validCsvRows(bets: PackedBets, options: ValidateBetOptions): ValidCsvRows {
  const { bytes, fields, numbers, agencies, count } = bets;
  const rules = new PackedBetRules(options);
  const out = rowBuffer(bets);
  let o = 0;
  for (let i = 0; i < count; i++) {
    const agency = agencies[i];
    const number = numbers[i];
    const at = i * PACKED_FIELD_SLOTS;
    const s0 = fields[at], e0 = fields[at + 1], s1 = fields[at + 2], e1 = fields[at + 3];
    const s2 = fields[at + 4], e2 = fields[at + 5], s3 = fields[at + 6], e3 = fields[at + 7];
    if (!rules.accepts(bets, i)) return { rows: undefined, invalid: i };
    o = writeSmallInteger(out, o, agency);
    out[o++] = CHAR_COMMA;
    o = writeField(out, o, bytes, s0, e0);
    out[o++] = CHAR_COMMA;
    o = writeField(out, o, bytes, s1, e1);
    out[o++] = CHAR_COMMA;
    // A valid document is digits and a valid birthdate digits and dashes: never quoted.
    for (let k = s2; k < e2; k++) out[o++] = bytes[k];
    out[o++] = CHAR_COMMA;
    for (let k = s3; k < e3; k++) out[o++] = bytes[k];
    out[o++] = CHAR_COMMA;
    o = writeSmallInteger(out, o, number);
    out[o++] = CHAR_LF;
  }
  return { rows: out.slice(0, o), invalid: -1 };
}

/** Scratch buffer of both packed writers; grown, never shrunk, and copied out of. */
let rowScratch = new Uint8Array(1 << 16);
const rowEncoder = new TextEncoder();

/**
 * The scratch buffer, grown to hold the rows of `bets` in the worst case: every field
 * quoted with every byte a doubled quote, 20 bytes a number.
 */
function rowBuffer(bets: PackedBets): Uint8Array {
  const { fields, count } = bets;
  let worst = count * 48;
  for (let i = 0; i < count * PACKED_FIELD_SLOTS; i += 2) {
    worst += 2 * (fields[i + 1] - fields[i]) + 3;
  }
  if (rowScratch.length < worst) {
    rowScratch = new Uint8Array(Math.max(worst, rowScratch.length * 2));
  }
  return rowScratch;
}

/** Writes a non-negative integer below 2^31 in decimal. */
function writeSmallInteger(out: Uint8Array, at: number, value: number): number {
  let digits = 1;
  for (let v = value; v >= 10; v = (v / 10) | 0) digits++;
  let v = value;
  for (let o = at + digits - 1; o > at; o--) {
    const q = (v / 10) | 0;
    out[o] = CHAR_0 + v - q * 10;
    v = q;
  }
  out[at] = CHAR_0 + v;
  return at + digits;
}

/** Copies a field, quoted (quotes doubled) only when it holds `,` `"` CR or LF. */
function writeField(
  out: Uint8Array,
  at: number,
  bytes: Uint8Array,
  start: number,
  end: number,
): number {
  let o = at;
  let i = start;
  for (; i < end; i++) {
    const c = bytes[i];
    if (c === CHAR_COMMA || c === CHAR_QUOTE || c === CHAR_LF || c === CHAR_CR) break;
    out[o++] = c;
  }
  if (i === end) return o;
  o = at;
  out[o++] = CHAR_QUOTE;
  for (i = start; i < end; i++) {
    const c = bytes[i];
    if (c === CHAR_QUOTE) out[o++] = CHAR_QUOTE;
    out[o++] = c;
  }
  out[o++] = CHAR_QUOTE;
  return o;
}

/** Writes a number as `String(value)` does. */
function writeNumber(out: Uint8Array, at: number, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    const text = rowEncoder.encode(String(value));
    out.set(text, at);
    return at + text.length;
  }
  let digits = 1;
  for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++;
  let v = value;
  for (let o = at + digits - 1; o >= at; o--) {
    out[o] = CHAR_0 + (v % 10);
    v = Math.floor(v / 10);
  }
  return at + digits;
}
