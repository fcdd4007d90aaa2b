/**
 * Reference implementations of CSV rows made of strings, for tests and
 * benchmarks only: the slow, obvious twins that the fast readers and writers
 * of `csv/` are checked against (`csv_test.ts`, `packed_test.ts`) and
 * measured against (`csv_bench.ts`). Nothing else imports this file.
 *
 * @module
 */

import type { Bet } from "./bet.ts";
import { AGENCY_ROW_FIELDS, parseDigits, STORE_ROW_FIELDS } from "./csv/mod.ts";

/**
 * Turns the fields of an agency file row into a bet of `agency`. The number
 * is parsed strictly; the other fields are kept as written (see `validateBet`).
 *
 * @throws {SyntaxError} on a wrong field count or a number that is not digits.
 */
export function agencyRowToBet(fields: string[], agency: number): Bet {
  if (fields.length !== AGENCY_ROW_FIELDS) {
    throw new SyntaxError(`Expected ${AGENCY_ROW_FIELDS} fields, got ${fields.length}`);
  }
  return {
    agency,
    firstName: fields[0],
    lastName: fields[1],
    document: fields[2],
    birthdate: fields[3],
    number: parseDigits(fields[4], "number"),
  };
}

/**
 * Turns the fields of a store row into a bet; agency and number are parsed strictly.
 *
 * @throws {SyntaxError} on a wrong field count or a number that is not digits.
 */
export function storeRowToBet(fields: string[]): Bet {
  if (fields.length !== STORE_ROW_FIELDS) {
    throw new SyntaxError(`Expected ${STORE_ROW_FIELDS} fields, got ${fields.length}`);
  }
  return {
    agency: parseDigits(fields[0], "agency"),
    firstName: fields[1],
    lastName: fields[2],
    document: fields[3],
    birthdate: fields[4],
    number: parseDigits(fields[5], "number"),
  };
}
