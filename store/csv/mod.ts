/**
 * Bets as CSV (RFC 4180): the format (`format.ts`), store rows made from bets
 * (`rows.ts`), and streaming readers of agency files and the store file
 * (`read.ts`, over the byte-level parser in `_parser.ts`). Its error is
 * {@linkcode CsvFormatError} (`errors.ts`).
 *
 * @module
 */

export { CsvFormatError } from "./errors.ts";
export { AGENCY_ROW_FIELDS, csvField, parseDigits, STORE_ROW_FIELDS } from "./format.ts";
export {
  betToAgencyRow,
  betToCsvRow,
  packedBetsToCsvRows,
  type ValidCsvRows,
  validCsvRows,
} from "./rows.ts";
export {
  type AgencyBetRecord,
  AgencyRowsParser,
  CsvRowError,
  type PackedRecords,
  readAgencyBets,
  type ReadAgencyBetsOptions,
  readAgencyBetsPacked,
  readAgencyRecords,
  readStoreBets,
  type ReadStoreBetsOptions,
  readStoreBetsPacked,
} from "./read.ts";
