/**
 * CSV rows for bets (RFC 4180) and streaming readers for agency files and the
 * store file.
 *
 * Store rows are `agency,first_name,last_name,document,birthdate,number`;
 * agency files hold `first_name,last_name,document,birthdate,number`. Neither
 * has a header row. A field is quoted only when it holds `,` `"` `\r` or `\n`,
 * and quotes inside it are doubled.
 *
 * Files are read by a hand-written byte-level parser, a chunk at a time: it
 * finds records and fields in the bytes, checks UTF-8 as it goes, parses the
 * numbers, and hands out {@linkcode PackedBets} (offsets into the chunk, no
 * string a field), so memory stays flat whatever the file size. The object
 * readers ({@linkcode readAgencyBets}, {@linkcode readStoreBets}) make strings
 * from those only for their caller. It replaced papaparse (about 1M rows/s
 * fed text, and a CommonJS module that costs every process ~40 ms to load)
 * and csv-parse (about 300k rows/s fed bytes); see `csv_bench.ts`.
 *
 * @module
 */

import {
  type Bet,
  PACKED_FIELD_SLOTS,
  PackedBetRules,
  type PackedBets,
  packedCapacity,
  unpackBet,
  type ValidateBetOptions,
} from "./bet.ts";
import { utf8SequenceLength } from "../util/mod.ts";

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

// ---------------------------------------------------------------------------
// Packed bets to store rows

let rowScratch = new Uint8Array(1 << 16);
const rowEncoder = new TextEncoder();

/**
 * The store rows of `bets`, byte for byte what {@linkcode betToCsvRow} writes
 * for each bet, in one new buffer, made without a string a bet.
 */
export function packedBetsToCsvRows(bets: PackedBets): Uint8Array {
  const { bytes, fields, numbers, agencies, count } = bets;
  // Worst case: every field quoted with every byte a doubled quote, 20 bytes a number.
  let worst = 0;
  for (let i = 0; i < count * PACKED_FIELD_SLOTS; i += 2) {
    worst += 2 * (fields[i + 1] - fields[i]) + 3;
  }
  worst += count * 48;
  if (rowScratch.length < worst) {
    rowScratch = new Uint8Array(Math.max(worst, rowScratch.length * 2));
  }
  const out = rowScratch;
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
  let worst = count * 48;
  for (let i = 0; i < count * PACKED_FIELD_SLOTS; i += 2) {
    worst += 2 * (fields[i + 1] - fields[i]) + 3;
  }
  if (rowScratch.length < worst) {
    rowScratch = new Uint8Array(Math.max(worst, rowScratch.length * 2));
  }
  const out = rowScratch;
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

// ---------------------------------------------------------------------------
// Readers

/** A bet read from an agency file, with the line its record starts on. */
export interface AgencyBetRecord {
  /** The bet, with the agency given to {@linkcode readAgencyBets} (0 by default). */
  bet: Bet;
  /** 1-based line of the file where the record starts. */
  line: number;
}

/**
 * Records read from a file, packed: one chunk of the file at a time. The
 * arrays and the bytes are reused, so a chunk is valid only until the next
 * call to `next()`.
 */
export interface PackedRecords extends PackedBets {
  /** 1-based line where each record starts. */
  lines: Int32Array;
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

// ---------------------------------------------------------------------------
// The byte-level parser

const DEFAULT_CHUNK_SIZE = 65_536;
/** Longest record accepted, in bytes: past it a quote was surely never closed. */
const MAX_RECORD_BYTES = 1 << 20;
/** {@linkcode PackedCsvReader.parseRecord} results besides a position. */
const INCOMPLETE = -1;
const FAILED = -2;

interface PackedCsvReaderOptions {
  /** Fields a row: 5 (agency file) or 6 (store: the agency first). */
  fields: number;
  /** Agency of every bet when rows do not hold it. */
  agency: number;
  chunkSize?: number;
  limit?: number;
}

/**
 * Reads a CSV file a chunk at a time into one buffer, and parses every
 * complete record in it straight from the bytes: fields are offsets into the
 * buffer (a quoted field with doubled quotes is unescaped in place, once its
 * record is complete), UTF-8 is checked on the way, numbers are parsed. The
 * incomplete last record is moved to the front and completed by the next read;
 * the buffer grows only for a record longer than it.
 */
class PackedCsvReader implements AsyncIterableIterator<PackedRecords> {
  readonly #path: string;
  readonly #fieldCount: number;
  readonly #agency: number;
  readonly #chunkSize: number;
  readonly #limit: number;
  #file: Deno.FsFile | undefined;
  #opened = false;
  #finished = false;
  #buffer = new Uint8Array(0);
  /** First byte not parsed yet. */
  #start = 0;
  /** End of the bytes read. */
  #end = 0;
  #eof = false;
  #bytesRead = 0;
  /** Line on which the record at `#start` begins. */
  #line = 1;
  /** Whether the start of the file was looked at for a byte order mark. */
  #bomChecked = false;
  #out: PackedRecords;
  /** Error to throw once the records before it are consumed. */
  #pendingError: CsvFormatError | undefined;
  // The record being parsed: where each field is, whether it holds doubled quotes.
  readonly #fieldStart: Int32Array;
  readonly #fieldEnd: Int32Array;
  readonly #fieldEscaped: Uint8Array;
  #recordFields = 0;
  #recordNewlines = 0;

  constructor(path: string, options: PackedCsvReaderOptions) {
    this.#path = path;
    this.#fieldCount = options.fields;
    this.#agency = options.agency;
    this.#chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.#limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (!Number.isInteger(this.#chunkSize) || this.#chunkSize < 1) {
      throw new RangeError(`Invalid chunkSize: ${this.#chunkSize} (expected a positive integer)`);
    }
    const packed = packedCapacity(undefined, 0);
    this.#out = { ...packed, lines: new Int32Array(packed.numbers.length) };
    this.#fieldStart = new Int32Array(this.#fieldCount);
    this.#fieldEnd = new Int32Array(this.#fieldCount);
    this.#fieldEscaped = new Uint8Array(this.#fieldCount);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<PackedRecords> {
    return this;
  }

  async next(): Promise<IteratorResult<PackedRecords>> {
    try {
      for (;;) {
        if (this.#pendingError !== undefined) throw this.#pendingError;
        if (this.#finished) return { value: undefined, done: true };
        if (this.#opened) {
          const out = this.#parse();
          if (out.count > 0) return { value: out, done: false };
          if (this.#pendingError !== undefined) continue;
          if (this.#eof) {
            this.#close();
            return { value: undefined, done: true };
          }
          if (this.#end - this.#start > MAX_RECORD_BYTES) {
            throw this.#error(
              `Record longer than ${MAX_RECORD_BYTES} bytes (a quote never closed?)`,
              this.#line,
            );
          }
        } else {
          await this.#open();
        }
        await this.#read();
      }
    } catch (error) {
      this.#close();
      this.#pendingError = undefined;
      throw error;
    }
  }

  return(): Promise<IteratorResult<PackedRecords>> {
    this.#close();
    return Promise.resolve({ value: undefined, done: true });
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
    this.#buffer = new Uint8Array(Math.min(Math.max(this.#chunkSize, 1024), 1 << 22));
  }

  /** Reads up to one chunk after the unparsed bytes (moved to the front first). */
  async #read(): Promise<void> {
    const file = this.#file;
    const left = this.#limit - this.#bytesRead;
    if (file === undefined || left <= 0) {
      this.#eof = true;
      return;
    }
    if (this.#start > 0) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#end === this.#buffer.length) {
      const grown = new Uint8Array(this.#buffer.length * 2);
      grown.set(this.#buffer);
      this.#buffer = grown;
    }
    const size = Math.min(this.#chunkSize, this.#buffer.length - this.#end, left);
    let count: number | null;
    try {
      count = await file.read(this.#buffer.subarray(this.#end, this.#end + size));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw this.#error(`Cannot read file: ${reason}`, this.#line, error);
    }
    if (count === null) {
      this.#eof = true;
      this.#close(false);
      return;
    }
    this.#bytesRead += count;
    this.#end += count;
  }

  /** Parses every complete record from `#start`; stops at an incomplete one or an error. */
  #parse(): PackedRecords {
    if (!this.#bomChecked) this.#skipByteOrderMark();
    // The shortest record with all its fields is one byte a field (`,,,,1` at the end).
    const room = Math.ceil((this.#end - this.#start) / this.#fieldCount) + 2;
    let out = this.#out;
    if (out.numbers.length < room) {
      const packed = packedCapacity(undefined, room);
      out = this.#out = { ...packed, lines: new Int32Array(packed.numbers.length) };
    }
    out.bytes = this.#buffer;
    const { fields, numbers, agencies, lines } = out;
    const fieldStart = this.#fieldStart;
    const fieldEnd = this.#fieldEnd;
    const expected = this.#fieldCount;
    const first = expected - 5; // index of first_name in the row
    let count = 0;
    let p = this.#start;
    while (p < this.#end) {
      const line = this.#line;
      const next = this.#parseRecord(p);
      if (next < 0) break; // INCOMPLETE, or FAILED with #pendingError set
      p = next;
      this.#start = next;
      this.#line = line + this.#recordNewlines;
      const found = this.#recordFields;
      if (found === 1 && fieldStart[0] === fieldEnd[0]) continue; // blank line
      if (found !== expected) {
        this.#pendingError = this.#error(`Expected ${expected} fields, got ${found}`, line);
        break;
      }
      this.#unescape();
      const number = this.#digits(expected - 1, "number", line);
      const agency = first === 0 ? this.#agency : this.#digits(0, "agency", line);
      if (number < 0 || agency < 0) break;
      const at = count * PACKED_FIELD_SLOTS;
      for (let f = 0; f < 4; f++) {
        fields[at + 2 * f] = fieldStart[first + f];
        fields[at + 2 * f + 1] = fieldEnd[first + f];
      }
      numbers[count] = number;
      agencies[count] = agency;
      lines[count] = line;
      count++;
    }
    out.count = count;
    return out;
  }

  /** Skips a UTF-8 byte order mark at the start of the file (spreadsheets write one). */
  #skipByteOrderMark(): void {
    const buffer = this.#buffer;
    const available = this.#end - this.#start;
    const bom = [0xef, 0xbb, 0xbf];
    for (let i = 0; i < Math.min(3, available); i++) {
      if (buffer[this.#start + i] !== bom[i]) {
        this.#bomChecked = true;
        return;
      }
    }
    if (available < 3 && !this.#eof) return; // a prefix of one, so far
    this.#bomChecked = true;
    if (available >= 3) this.#start += 3;
  }

  /**
   * Finds the fields of the record at `p`; returns where the next record
   * starts, {@linkcode INCOMPLETE} when more bytes are needed, or
   * {@linkcode FAILED} (with `#pendingError` set).
   */
  #parseRecord(start: number): number {
    const buffer = this.#buffer;
    const end = this.#end;
    const eof = this.#eof;
    const fieldStart = this.#fieldStart;
    const fieldEnd = this.#fieldEnd;
    const fieldEscaped = this.#fieldEscaped;
    const capacity = this.#fieldCount;
    let newlines = 0;
    let f = 0;
    let p = start;
    for (;;) {
      let s: number;
      let e: number;
      let escaped = 0;
      let last: boolean; // whether this field ends the record
      if (p < end && buffer[p] === CHAR_QUOTE) {
        s = p + 1;
        let q = s;
        for (;;) {
          if (q >= end) {
            if (!eof) return INCOMPLETE;
            return this.#fail("Bad quoting: a quoted field is never closed", this.#line);
          }
          const c = buffer[q];
          if (c === CHAR_QUOTE) {
            if (q + 1 < end && buffer[q + 1] === CHAR_QUOTE) {
              escaped = 1;
              q += 2;
              continue;
            }
            if (q + 1 >= end && !eof) return INCOMPLETE;
            break;
          }
          if (c < 0x80) {
            if (c === CHAR_LF) newlines++;
            q++;
            continue;
          }
          const length = utf8SequenceLength(buffer, q, end);
          if (length > 0) q += length;
          else if (length === 0 && !eof) return INCOMPLETE;
          else return this.#fail("Invalid UTF-8 text", this.#line + newlines);
        }
        e = q;
        p = q + 1; // past the closing quote
        if (p >= end) {
          last = true;
        } else {
          const c = buffer[p];
          if (c === CHAR_COMMA) {
            p++;
            last = false;
          } else if (c === CHAR_LF) {
            p++;
            newlines++;
            last = true;
          } else if (c === CHAR_CR && p + 1 < end && buffer[p + 1] === CHAR_LF) {
            p += 2;
            newlines++;
            last = true;
          } else if (c === CHAR_CR && p + 1 >= end) {
            if (!eof) return INCOMPLETE;
            p++;
            last = true;
          } else {
            return this.#fail(
              'Bad quoting: a closing quote must be followed by ",", a line end or a doubled quote',
              this.#line,
            );
          }
        }
      } else {
        s = p;
        let q = p;
        let c = 0;
        while (q < end) {
          c = buffer[q];
          if (c === CHAR_COMMA || c === CHAR_LF) break;
          if (c < 0x80) {
            q++;
            continue;
          }
          const length = utf8SequenceLength(buffer, q, end);
          if (length > 0) q += length;
          else if (length === 0 && !eof) return INCOMPLETE;
          else return this.#fail("Invalid UTF-8 text", this.#line + newlines);
        }
        if (q >= end) {
          if (!eof) return INCOMPLETE;
          e = q;
          p = q;
          last = true;
        } else if (c === CHAR_COMMA) {
          e = q;
          p = q + 1;
          last = false;
        } else {
          e = q;
          p = q + 1;
          newlines++;
          last = true;
        }
        // CRLF: the CR stays out of the record's last field.
        if (last && e > s && buffer[e - 1] === CHAR_CR) e--;
      }
      if (f < capacity) {
        fieldStart[f] = s;
        fieldEnd[f] = e;
        fieldEscaped[f] = escaped;
      }
      f++;
      if (last) break;
    }
    this.#recordFields = f;
    this.#recordNewlines = newlines;
    return p;
  }

  /** Turns the doubled quotes of the record's quoted fields into single ones, in place. */
  #unescape(): void {
    const buffer = this.#buffer;
    for (let f = 0; f < this.#fieldCount; f++) {
      if (this.#fieldEscaped[f] === 0) continue;
      const end = this.#fieldEnd[f];
      let w = this.#fieldStart[f];
      for (let r = w; r < end; r++) {
        const c = buffer[r];
        buffer[w++] = c;
        if (c === CHAR_QUOTE) r++;
      }
      this.#fieldEnd[f] = w;
    }
  }

  /** The digits of field `f` as a number; -1 with `#pendingError` set when they are not 1-15 digits. */
  #digits(f: number, name: string, line: number): number {
    const buffer = this.#buffer;
    const start = this.#fieldStart[f];
    const end = this.#fieldEnd[f];
    let value = 0;
    let ok = end > start && end - start <= 15;
    for (let i = start; ok && i < end; i++) {
      const c = buffer[i];
      if (c < CHAR_0 || c > CHAR_9) ok = false;
      value = value * 10 + (c - CHAR_0);
    }
    if (ok) return value;
    const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(buffer.subarray(start, end));
    try {
      parseDigits(text, name);
    } catch (error) {
      this.#pendingError = this.#error((error as Error).message, line, error);
    }
    return -1;
  }

  #fail(message: string, line: number): number {
    this.#pendingError = this.#error(message, line);
    return FAILED;
  }

  #error(message: string, line: number, cause?: unknown): CsvFormatError {
    return new CsvFormatError(message, { path: this.#path, line, cause });
  }

  /** Closes the file; with `finished`, also ends the iteration. */
  #close(finished = true): void {
    if (finished) {
      this.#finished = true;
      this.#buffer = new Uint8Array(0);
      this.#start = this.#end = 0;
    }
    const file = this.#file;
    this.#file = undefined;
    file?.close();
  }
}
