/**
 * The lottery's domain: what a bet is, when it is valid, and when it wins.
 *
 * {@linkcode validateBet} runs on the server for every bet received, so it is
 * written for speed: character-code loops instead of regular expressions, and
 * date checks done with arithmetic on the text instead of `Date` objects.
 *
 * The packed form of bets lives in `packed_bets.ts`.
 *
 * @module
 */

import {
  isBirthDay,
  isTrimmedSpace,
  MAX_DOCUMENT_DIGITS,
  MIN_BIRTH_YEAR,
  todayText,
} from "./_bet_rules.ts";

// Byte values as this module's own constants: V8 folds those in hot loops, not imported
// ones (measured: csvField() about 30% slower with the constants imported).
const CHAR_0 = 0x30, CHAR_9 = 0x39, CHAR_DASH = 0x2d;

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

/** Longest value shown in a reason, in UTF-16 units, before it is cut with an ellipsis. */
const MAX_SHOWN_VALUE = 60;

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
