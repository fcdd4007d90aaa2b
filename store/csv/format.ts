/**
 * The CSV format of bets (RFC 4180), shared by the row writers and the parser.
 *
 * Store rows are `agency,first_name,last_name,document,birthdate,number`;
 * agency files hold `first_name,last_name,document,birthdate,number`. Neither
 * has a header row. A field is quoted only when it holds `,` `"` `\r` or `\n`,
 * and quotes inside it are doubled. Numbers (agency, number) are 1 to 15
 * ASCII digits: no sign, space, point or exponent.
 *
 * @module
 */

/** Number of fields of a store row. */
export const STORE_ROW_FIELDS = 6;
/** Number of fields of an agency file row. */
export const AGENCY_ROW_FIELDS = 5;
/** Most digits of a number field. */
const MAX_DIGITS = 15;

// Byte values as this module's own constants: V8 folds those in hot loops, not imported
// ones (measured: csvField() about 30% slower with the constants imported).
const CHAR_QUOTE = 0x22, CHAR_COMMA = 0x2c, CHAR_CR = 0x0d, CHAR_LF = 0x0a;
const CHAR_0 = 0x30, CHAR_9 = 0x39;

/** A field as it goes in a row: quoted (inner quotes doubled) only when needed. */
export function csvField(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === CHAR_COMMA || c === CHAR_QUOTE || c === CHAR_LF || c === CHAR_CR) {
      return `"${value.replaceAll('"', '""')}"`;
    }
  }
  return value;
}

/**
 * Parses a number field: a non-negative integer written with ASCII digits
 * only (no sign, spaces, point or exponent), at most 15 digits.
 *
 * @throws {SyntaxError} naming the field and the value.
 */
export function parseDigits(text: string, field: string): number {
  const length = text.length;
  if (length === 0 || length > MAX_DIGITS) {
    throw new SyntaxError(`Invalid ${field}: ${JSON.stringify(text)} (expected 1-15 digits)`);
  }
  let value = 0;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c < CHAR_0 || c > CHAR_9) {
      throw new SyntaxError(`Invalid ${field}: ${JSON.stringify(text)} (expected digits only)`);
    }
    value = value * 10 + (c - CHAR_0);
  }
  return value;
}
