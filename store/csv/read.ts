/**
 * Reading bets from CSV files, a chunk at a time: agency files
 * (`first_name,last_name,document,birthdate,number`) and the store file
 * (`agency,first_name,last_name,document,birthdate,number`). The packed
 * readers hand out the parser's chunks as they are; the object readers make a
 * `Bet` of each record for their caller.
 *
 * @module
 */

import type { Bet } from "../bet.ts";
import { unpackBet } from "../packed_bets.ts";
import { PackedCsvReader, type PackedRecords } from "./_parser.ts";
import { AGENCY_ROW_FIELDS, STORE_ROW_FIELDS } from "./format.ts";

export { CsvRowError, type PackedRecords } from "./_parser.ts";

/** A bet read from an agency file, with the line its record starts on. */
export interface AgencyBetRecord {
  /** The bet, with the agency given to {@linkcode readAgencyBets} (0 by default). */
  bet: Bet;
  /** 1-based line of the file where the record starts. */
  line: number;
}

/** Options of {@linkcode readAgencyBets} and {@linkcode readAgencyBetsPacked}. */
export interface ReadAgencyBetsOptions {
  /** Agency written into every bet (agency files do not hold it). @default 0 */
  agency?: number;
  /** Bytes read from the file at a time. @default 65536 */
  chunkSize?: number;
}

/** Options of {@linkcode readStoreBets} and {@linkcode readStoreBetsPacked}. */
export interface ReadStoreBetsOptions {
  /** Bytes read from the file at a time. @default 65536 */
  chunkSize?: number;
  /** Reads at most this many bytes of the file (what was known to be complete). @default all */
  limit?: number;
}

/**
 * Streams the bets of an agency file (`first_name,last_name,document,birthdate,number`,
 * no header). Memory stays flat whatever the file size; records may span
 * lines (quoted newlines); CRLF line ends are accepted; blank lines are skipped.
 * Numbers are parsed strictly (digits only); other fields are not validated
 * here (see `validateBet`), except that the file must be UTF-8.
 *
 * Iteration rejects with a {@linkcode CsvFormatError} naming the file and the
 * line, e.g. `.data/agency-1.csv:17: Expected 5 fields, got 4`, after yielding
 * every record before the bad one; a missing file is reported the same way
 * (line 0, the `Deno.errors.NotFound` as `cause`). The file is opened on the
 * first `next()` and closed at the end, on an error, or on `return()` (`break`).
 */
export function readAgencyBets(
  path: string,
  options: ReadAgencyBetsOptions = {},
): AsyncIterableIterator<AgencyBetRecord> {
  return new ObjectIterator(
    readAgencyBetsPacked(path, options),
    (chunk, i) => ({ bet: unpackBet(chunk, i), line: chunk.lines[i] }),
  );
}

/**
 * Streams the bets of a store file (`agency,first_name,last_name,document,birthdate,number`),
 * with the same guarantees and errors as {@linkcode readAgencyBets}.
 */
export function readStoreBets(
  path: string,
  options: ReadStoreBetsOptions = {},
): AsyncIterableIterator<Bet> {
  return new ObjectIterator(readStoreBetsPacked(path, options), unpackBet);
}

/**
 * {@linkcode readAgencyBets} without objects: yields the bets a chunk at a
 * time, packed (see {@linkcode PackedRecords}: valid until the next `next()`).
 */
export function readAgencyBetsPacked(
  path: string,
  options: ReadAgencyBetsOptions = {},
): AsyncIterableIterator<PackedRecords> {
  return new PackedCsvReader(path, {
    fields: AGENCY_ROW_FIELDS,
    agency: options.agency ?? 0,
    chunkSize: options.chunkSize,
  });
}

/**
 * Where the records of an agency file are, and nothing more: yields chunks whose
 * `count`, `lines`, `starts` and `ends` say where each record is in `bytes`, as
 * written (see {@linkcode PackedRecords}; valid until the next `next()`). Fields,
 * numbers and UTF-8 are not checked: the client sends the records' own bytes and
 * the server, which parses them, says what is wrong with one. Blank lines and a byte
 * order mark are skipped, as {@linkcode readAgencyBets} skips them; a missing or
 * unreadable file is reported the same way.
 */
export function readAgencyRecords(
  path: string,
  options: Pick<ReadAgencyBetsOptions, "chunkSize"> = {},
): AsyncIterableIterator<PackedRecords> {
  return new PackedCsvReader(path, {
    fields: AGENCY_ROW_FIELDS,
    agency: 0,
    chunkSize: options.chunkSize,
    recordsOnly: true,
  });
}

/**
 * Parses agency-file records held in memory (the rows of a BET_ROWS frame) into
 * packed bets, with every check {@linkcode readAgencyBets} makes. One parser is
 * reused from batch to batch (its arrays are), so each result is valid until the
 * next `parse()`.
 */
export class AgencyRowsParser {
  readonly #reader = new PackedCsvReader("rows", { fields: AGENCY_ROW_FIELDS, agency: 0 });

  /**
   * The bets of `bytes`, each of agency `agency`. A quoted field with doubled quotes is
   * unescaped in place, in `bytes`.
   * @throws {CsvRowError} at the first record that does not parse: which one (`record`,
   *   0-based) and the line of `bytes` it names (`line`, 1-based).
   */
  parse(bytes: Uint8Array, agency: number): PackedRecords {
    return this.#reader.parseBytes(bytes, agency);
  }
}

/**
 * {@linkcode readStoreBets} without objects: yields the bets a chunk at a
 * time, packed (see {@linkcode PackedRecords}: valid until the next `next()`).
 */
export function readStoreBetsPacked(
  path: string,
  options: ReadStoreBetsOptions = {},
): AsyncIterableIterator<PackedRecords> {
  return new PackedCsvReader(path, {
    fields: STORE_ROW_FIELDS,
    agency: 0,
    chunkSize: options.chunkSize,
    limit: options.limit,
  });
}

/** Objects made from packed chunks; a hand-written iterator (an async generator costs ~3x a record). */
class ObjectIterator<T> implements AsyncIterableIterator<T> {
  readonly #source: AsyncIterableIterator<PackedRecords>;
  readonly #convert: (chunk: PackedRecords, index: number) => T;
  #chunk: PackedRecords | undefined;
  #index = 0;

  constructor(
    source: AsyncIterableIterator<PackedRecords>,
    convert: (chunk: PackedRecords, index: number) => T,
  ) {
    this.#source = source;
    this.#convert = convert;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    const chunk = this.#chunk;
    if (chunk !== undefined && this.#index < chunk.count) {
      return Promise.resolve({ value: this.#convert(chunk, this.#index++), done: false });
    }
    return this.#nextChunk();
  }

  return(): Promise<IteratorResult<T>> {
    this.#chunk = undefined;
    void this.#source.return?.();
    return Promise.resolve({ value: undefined, done: true });
  }

  async #nextChunk(): Promise<IteratorResult<T>> {
    const result = await this.#source.next();
    if (result.done) {
      this.#chunk = undefined;
      return { value: undefined, done: true };
    }
    this.#chunk = result.value;
    this.#index = 0;
    return this.next();
  }
}
