/**
 * The pieces of the bet rules that both forms of a bet check with: the
 * string one (`validateBet`, in `bet.ts`) and the byte one (`PackedBetRules`,
 * in `packed_bets.ts`), so that the two give one verdict.
 *
 * @module
 */

/** Oldest birth year accepted. */
export const MIN_BIRTH_YEAR = 1900;
/** Longest document accepted, in digits. */
export const MAX_DOCUMENT_DIGITS = 10;
const MS_PER_DAY = 86_400_000;

/** Whitespace that `String.prototype.trim` removes, above U+0020 (controls are rejected earlier). */
export function isTrimmedSpace(c: number): boolean {
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 ||
    c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** Whether the numbers make a day of the calendar from {@linkcode MIN_BIRTH_YEAR} on. */
export function isBirthDay(year: number, month: number, day: number): boolean {
  if (year < MIN_BIRTH_YEAR || month < 1 || month > 12 || day < 1) return false;
  return day <= daysInMonth(year, month);
}

/** Days of `month` (1-12) in `year`, leap years counted. */
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
export function todayText(today: Date | undefined): string {
  const ms = today === undefined ? Date.now() : today.getTime();
  const day = Math.floor(ms / MS_PER_DAY);
  if (day !== cachedDay) {
    cachedDayText = Number.isNaN(day) ? "" : new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
    cachedDay = day;
  }
  return cachedDayText;
}
