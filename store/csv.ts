/**
 * CSV rows for bets (RFC 4180) and streaming readers for agency files and the
 * store file.
 *
 * Store rows are `agency,first_name,last_name,document,birthdate,number`;
 * agency files hold `first_name,last_name,document,birthdate,number`. Neither
 * has a header row. A field is quoted only when it holds `,` `"` `\r` or `\n`,
 * and quotes inside it are doubled.
 *
 * Files are parsed with papaparse's low-level `Parser`, fed decoded text a
 * chunk at a time; the incomplete last record of a chunk is carried into the
 * next one, so memory stays flat whatever the file size (a 1 GB file peaks at
 * about 125 MiB RSS). papaparse was measured against csv-parse (which must be
 * fed bytes): about 1M against 250k rows/s here; see `csv_bench.ts`.
 *
 * @module
 */

import Papa from "papaparse";
import type { Bet } from "./bet.ts";

/** A file that is not valid CSV for bets; the message starts with `path:line:`. */
export class CsvFormatError extends Error {
  /** File that was being read. */
  readonly path: string;
  /** 1-based line where the bad record starts (0 when the file could not be read at all). */
  readonly line: number;

  /** Creates the error; `message` is the problem, without the `path:line:` prefix. */
  constructor(message: string, options: { path: string; line: number; cause?: unknown }) {
    const where = options.line > 0 ? `${options.path}:${options.line}` : options.path;
    super(`${where}: ${message}`, { cause: options.cause });
    this.name = "CsvFormatError";
    this.path = options.path;
    this.line = options.line;
  }
}

/** Number of fields of a store row. */
const STORE_ROW_FIELDS = 6;
/** Number of fields of an agency file row. */
const AGENCY_ROW_FIELDS = 5;

const CHAR_QUOTE = 0x22;
const CHAR_COMMA = 0x2c;
const CHAR_CR = 0x0d;
const CHAR_LF = 0x0a;
const CHAR_0 = 0x30;
const CHAR_9 = 0x39;

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

/** A store row: `agency,first_name,last_name,document,birthdate,number\n`. */
export function betToCsvRow(bet: Bet): string {
  return `${bet.agency},${csvField(bet.firstName)},${csvField(bet.lastName)},${
    csvField(bet.document)
  },${csvField(bet.birthdate)},${bet.number}\n`;
}

/** An agency file row: `first_name,last_name,document,birthdate,number\n` (no agency). */
export function betToAgencyCsvRow(bet: Bet): string {
  return `${csvField(bet.firstName)},${csvField(bet.lastName)},${csvField(bet.document)},${
    csvField(bet.birthdate)
  },${bet.number}\n`;
}

/**
 * Parses a non-negative integer written with ASCII digits only (no sign,
 * spaces, point or exponent), at most 15 digits.
 *
 * @throws {SyntaxError} naming the field and the value.
 */
function parseDigits(text: string, field: string): number {
  const length = text.length;
  if (length === 0 || length > 15) {
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

/** A bet read from an agency file, with the line its record starts on. */
export interface AgencyBetRecord {
  /** The bet, with the agency given to {@linkcode readAgencyBets} (0 by default). */
  bet: Bet;
  /** 1-based line of the file where the record starts. */
  line: number;
}

/** Options of {@linkcode readAgencyBets}. */
export interface ReadAgencyBetsOptions {
  /** Agency written into every bet (agency files do not hold it). @default 0 */
  agency?: number;
  /** Bytes read from the file at a time. @default 65536 */
  chunkSize?: number;
}

/** Options of {@linkcode readStoreBets}. */
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
 * here (see `validateBet`).
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
  const agency = options.agency ?? 0;
  return new CsvFileIterator(path, {
    chunkSize: options.chunkSize,
    convert: (fields, line) => ({ bet: agencyRowToBet(fields, agency), line }),
  });
}

/**
 * Streams the bets of a store file (`agency,first_name,last_name,document,birthdate,number`),
 * with the same guarantees and errors as {@linkcode readAgencyBets}.
 */
export function readStoreBets(
  path: string,
  options: ReadStoreBetsOptions = {},
): AsyncIterableIterator<Bet> {
  return new CsvFileIterator(path, {
    chunkSize: options.chunkSize,
    limit: options.limit,
    convert: storeRowToBet,
  });
}

// ---------------------------------------------------------------------------
// Streaming reader

/** The part of papaparse's low-level `Papa.Parser` used here (the package ships no types). */
interface PapaParser {
  parse(input: string, baseIndex: number, ignoreLastRow: boolean): PapaResult;
}
interface PapaResult {
  data: string[][];
  errors: { code: string; row: number }[];
  meta: { cursor: number };
}
const PapaParserClass = (Papa as unknown as {
  Parser: new (config: { delimiter: string; newline: string; quoteChar: string }) => PapaParser;
}).Parser;

const DEFAULT_CHUNK_SIZE = 65_536;
/** Longest record accepted, in UTF-16 units: past it the quote is surely never closed. */
const MAX_RECORD_CHARS = 1 << 20;

interface CsvFileIteratorOptions<T> {
  chunkSize?: number;
  limit?: number;
  convert(fields: string[], line: number): T;
}

/**
 * Reads a CSV file a chunk at a time with papaparse: each chunk's text is
 * parsed up to its last complete record (`ignoreLastRow`), and the rest is
 * carried into the next chunk. A hand-written iterator rather than an async
 * generator: an async generator's `yield` costs about three times more per
 * record, which shows at millions of records.
 */
class CsvFileIterator<T> implements AsyncIterableIterator<T> {
  readonly #path: string;
  readonly #chunkSize: number;
  readonly #limit: number;
  readonly #convert: (fields: string[], line: number) => T;
  readonly #parser = new PapaParserClass({ delimiter: ",", newline: "\n", quoteChar: '"' });
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  #file: Deno.FsFile | undefined;
  #bytes: Uint8Array | undefined;
  #bytesRead = 0;
  #opened = false;
  #finished = false;
  /** Text after the last complete record, waiting for the next chunk. */
  #carry = "";
  /** Line on which the carried text starts. */
  #carryLine = 1;
  /** Records of the current chunk, and their start lines (undefined: one line each). */
  #records: string[][] = [];
  #lines: number[] | undefined;
  #firstLine = 1;
  #index = 0;
  /** Error to throw once the records before it are consumed. */
  #pendingError: CsvFormatError | undefined;

  constructor(path: string, options: CsvFileIteratorOptions<T>) {
    this.#path = path;
    this.#chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.#limit = options.limit ?? Number.POSITIVE_INFINITY;
    this.#convert = options.convert;
    if (!Number.isInteger(this.#chunkSize) || this.#chunkSize < 1) {
      throw new RangeError(`Invalid chunkSize: ${this.#chunkSize} (expected a positive integer)`);
    }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    // The fast path: a record of the current chunk, no await involved.
    while (this.#index < this.#records.length) {
      const index = this.#index++;
      const fields = this.#records[index];
      if (fields.length === 1 && fields[0] === "") continue; // blank line
      const line = this.#lines === undefined ? this.#firstLine + index : this.#lines[index];
      try {
        return Promise.resolve({ value: this.#convert(fields, line), done: false });
      } catch (error) {
        this.#close();
        const message = error instanceof Error ? error.message : String(error);
        return Promise.reject(
          new CsvFormatError(message, { path: this.#path, line, cause: error }),
        );
      }
    }
    return this.#nextChunk();
  }

  return(): Promise<IteratorResult<T>> {
    this.#close();
    return Promise.resolve({ value: undefined, done: true });
  }

  async #nextChunk(): Promise<IteratorResult<T>> {
    while (this.#index >= this.#records.length) {
      if (this.#pendingError !== undefined) {
        const error = this.#pendingError;
        this.#pendingError = undefined;
        this.#close();
        throw error;
      }
      if (this.#finished) {
        this.#close();
        return { value: undefined, done: true };
      }
      try {
        await this.#parseNextChunk();
      } catch (error) {
        this.#close();
        throw error;
      }
    }
    return this.next();
  }

  /** Reads one chunk and parses it into `#records`; at end of file, parses what is left. */
  async #parseNextChunk(): Promise<void> {
    if (!this.#opened) await this.#open();
    const bytes = await this.#read();
    let text: string;
    let decodeError: CsvFormatError | undefined;
    try {
      text = this.#carry +
        this.#decoder.decode(bytes ?? new Uint8Array(), { stream: bytes !== null });
    } catch (error) {
      // Decode again, bad bytes becoming U+FFFD: the records before the first one are
      // still yielded, and the error names its line.
      const lossy = this.#carry + new TextDecoder().decode(bytes ?? new Uint8Array());
      const bad = lossy.indexOf("\uFFFD");
      text = bad < 0 ? lossy : lossy.slice(0, bad);
      const line = this.#carryLine + countNewlines([text]);
      decodeError = this.#error("Invalid UTF-8 text", line, error);
    }
    const last = bytes === null && decodeError === undefined;
    if (last) {
      this.#finished = true;
      this.#close();
    }
    const result = this.#parser.parse(text, 0, !last);
    const records = result.data;
    this.#carry = last ? "" : text.substring(result.meta.cursor);
    this.#records = records;
    this.#index = 0;
    this.#firstLine = this.#carryLine;

    if (text.includes("\r")) stripCarriageReturns(records);
    // Quoted fields may hold newlines: then each record's start line is counted.
    let nextLine = this.#carryLine + records.length;
    this.#lines = undefined;
    if (text.includes('"')) {
      const lines = new Array<number>(records.length);
      let line = this.#carryLine;
      for (let i = 0; i < records.length; i++) {
        lines[i] = line;
        line += 1 + countNewlines(records[i]);
      }
      this.#lines = lines;
      nextLine = line;
    }
    this.#carryLine = nextLine;

    // Errors of complete records are final; one on the carried record is looked at again
    // once more text has come, so a chunk boundary never causes a false error.
    for (const error of result.errors) {
      if (error.row >= records.length && !last) continue;
      const row = Math.min(error.row, records.length);
      const line = row < records.length ? (this.#lines?.[row] ?? this.#firstLine + row) : nextLine;
      const message = error.code === "MissingQuotes"
        ? "Bad quoting: a quoted field is never closed"
        : 'Bad quoting: a closing quote must be followed by ",", a line end or a doubled quote';
      this.#pendingError = this.#error(message, line);
      records.length = row;
      return;
    }
    if (decodeError !== undefined) {
      this.#pendingError = decodeError;
      return;
    }
    if (this.#carry.length > MAX_RECORD_CHARS) {
      this.#pendingError = this.#error(
        `Record longer than ${MAX_RECORD_CHARS} characters (a quote never closed?)`,
        this.#carryLine,
      );
    }
  }

  async #open(): Promise<void> {
    this.#opened = true;
    try {
      this.#file = await Deno.open(this.#path, { read: true });
    } catch (error) {
      const reason = error instanceof Deno.errors.NotFound
        ? "File not found"
        : `Cannot open file: ${error instanceof Error ? error.message : String(error)}`;
      throw this.#error(reason, 0, error);
    }
    this.#bytes = new Uint8Array(this.#chunkSize);
  }

  /** The next chunk of bytes (a view of a reused buffer), or null at the end or the limit. */
  async #read(): Promise<Uint8Array | null> {
    const left = this.#limit - this.#bytesRead;
    if (this.#file === undefined || this.#bytes === undefined || left <= 0) return null;
    const buffer = left < this.#bytes.length ? this.#bytes.subarray(0, left) : this.#bytes;
    let count: number | null;
    try {
      count = await this.#file.read(buffer);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw this.#error(`Cannot read file: ${reason}`, this.#carryLine, error);
    }
    if (count === null) return null;
    this.#bytesRead += count;
    return buffer.subarray(0, count);
  }

  #error(message: string, line: number, cause?: unknown): CsvFormatError {
    return new CsvFormatError(message, { path: this.#path, line, cause });
  }

  #close(): void {
    this.#finished = true;
    this.#records = [];
    this.#index = 0;
    this.#bytes = undefined;
    const file = this.#file;
    this.#file = undefined;
    file?.close();
  }
}

/** Drops the `\r` of CRLF line ends left at the end of unquoted last fields. */
function stripCarriageReturns(records: string[][]): void {
  for (const fields of records) {
    const last = fields.length - 1;
    const value = fields[last];
    if (value.charCodeAt(value.length - 1) === CHAR_CR) fields[last] = value.slice(0, -1);
  }
}

function countNewlines(fields: string[]): number {
  let count = 0;
  for (const field of fields) {
    for (let at = field.indexOf("\n"); at !== -1; at = field.indexOf("\n", at + 1)) count++;
  }
  return count;
}
