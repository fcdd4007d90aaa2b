/**
 * The byte-level CSV parser behind every reader of `read.ts`: one state
 * machine over a chunk buffer, so it stays one file (near 600 lines: the
 * record scanner, the chunk refills, the unescaping, the records-only scan
 * and the in-memory parse share the buffer, its offsets and its line count,
 * and splitting them would put a call a byte on the hot path).
 *
 * Three ways in: a file a chunk at a time (`next()`, the store and agency
 * readers); a file's records only (`recordsOnly`: where each record ends, for
 * the client, which sends them as they are); bytes in memory
 * (`parseBytes()`, the server's parse of a BET_ROWS frame).
 *
 * It reads a file a chunk at a time into one buffer and parses every complete
 * record in it straight from the bytes: it finds records and fields, checks
 * UTF-8 as it goes, parses the numbers, and hands out {@linkcode PackedRecords}
 * (offsets into the chunk, no string a field), so memory stays flat whatever
 * the file size. It replaced papaparse (about 1M rows/s fed text, and a
 * CommonJS module that costs every process ~40 ms to load) and csv-parse
 * (about 300k rows/s fed bytes); see `store/csv_bench.ts`.
 *
 * @module
 */

import { PACKED_FIELD_SLOTS, type PackedBets, packedCapacity } from "../packed_bets.ts";
import { utf8SequenceLength } from "../../util/mod.ts";
import { CsvFormatError } from "./errors.ts";
import { parseDigits } from "./format.ts";

// Byte values as this module's own constants: V8 folds those in hot loops, not imported
// ones (measured: csvField() about 30% slower with the constants imported).
const CHAR_QUOTE = 0x22, CHAR_COMMA = 0x2c, CHAR_CR = 0x0d, CHAR_LF = 0x0a;
const CHAR_0 = 0x30, CHAR_9 = 0x39;
/** Most digits of a number field (see `parseDigits`). */
const MAX_DIGITS = 15;

/**
 * Records read from a file, packed: one chunk of the file at a time. The
 * arrays and the bytes are reused, so a chunk is valid only until the next
 * call to `next()`.
 */
export interface PackedRecords extends PackedBets {
  /** 1-based line where each record starts. */
  lines: Int32Array;
  /**
   * Where each record is in `bytes`: record `i` is `bytes[starts[i] .. ends[i])`, as written
   * in the file (quotes and line end included; the last record of a file may have no line
   * end). With `recordsOnly`, these, `lines` and `count` are all that is filled in.
   */
  starts: Int32Array;
  /** See {@linkcode PackedRecords.starts}. */
  ends: Int32Array;
}

/**
 * A record {@linkcode PackedCsvReader.parseBytes} could not parse, with its place: the
 * message names the line in the bytes parsed.
 */
export class CsvRowError extends CsvFormatError {
  /** 0-based index of the bad record among the records of the bytes. */
  readonly record: number;
  /** Lines between the start of the bad record and the line the message names (0 mostly). */
  readonly lineInRecord: number;

  constructor(error: CsvFormatError, record: number, recordLine: number) {
    super(error.reason, {
      path: error.path,
      line: error.line,
      cause: error.cause,
    });
    this.name = "CsvRowError";
    this.record = record;
    this.lineInRecord = error.line - recordLine;
  }
}

const DEFAULT_CHUNK_SIZE = 65_536;
/** Longest record accepted, in bytes: past it a quote was surely never closed. */
const MAX_RECORD_BYTES = 1 << 20;
/** `PackedCsvReader.#parseRecord` results besides a position. */
const INCOMPLETE = -1;
const FAILED = -2;

/** Options of {@linkcode PackedCsvReader}. */
export interface PackedCsvReaderOptions {
  /** Fields a row: 5 (agency file) or 6 (store: the agency first). */
  fields: number;
  /** Agency of every bet when rows do not hold it. */
  agency: number;
  /** Bytes read from the file at a time. @default 65536 */
  chunkSize?: number;
  /** Reads at most this many bytes of the file. @default all */
  limit?: number;
  /**
   * Finds where each record is and nothing else: no field, number or UTF-8 check (whoever
   * receives the records parses them). Blank lines and a byte order mark are still skipped.
   * @default false
   */
  recordsOnly?: boolean;
}

/**
 * Reads a CSV file a chunk at a time into one buffer, and parses every
 * complete record in it straight from the bytes: fields are offsets into the
 * buffer (a quoted field with doubled quotes is unescaped in place, once its
 * record is complete), UTF-8 is checked on the way, numbers are parsed. The
 * incomplete last record is moved to the front and completed by the next read;
 * the buffer grows only for a record longer than it.
 */
export class PackedCsvReader implements AsyncIterableIterator<PackedRecords> {
  readonly #path: string;
  readonly #fieldCount: number;
  readonly #recordsOnly: boolean;
  #agency: number;
  readonly #chunkSize: number;
  readonly #limit: number;
  #file: Deno.FsFile | undefined;
  #opened = false;
  #finished = false;
  #buffer: Uint8Array = new Uint8Array(0);
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
  /** Line on which the record being parsed starts (what an error is placed against). */
  #recordLine = 1;

  constructor(path: string, options: PackedCsvReaderOptions) {
    this.#path = path;
    this.#fieldCount = options.fields;
    this.#agency = options.agency;
    this.#recordsOnly = options.recordsOnly ?? false;
    this.#chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.#limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (!Number.isInteger(this.#chunkSize) || this.#chunkSize < 1) {
      throw new RangeError(`Invalid chunkSize: ${this.#chunkSize} (expected a positive integer)`);
    }
    this.#out = packedRecords(0);
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
    // The shortest record with all its fields is one byte a field (`,,,,1` at the end); one
    // that is only found (recordsOnly) is one byte and its line end.
    const shortest = this.#recordsOnly ? 2 : this.#fieldCount;
    const room = Math.ceil((this.#end - this.#start) / shortest) + 2;
    let out = this.#out;
    if (out.numbers.length < room) out = this.#out = packedRecords(room);
    out.bytes = this.#buffer;
    if (this.#recordsOnly) return this.#findRecords(out);
    const { fields, numbers, agencies, lines, starts, ends } = out;
    const fieldStart = this.#fieldStart;
    const fieldEnd = this.#fieldEnd;
    const expected = this.#fieldCount;
    const first = expected - 5; // index of first_name in the row
    let count = 0;
    let p = this.#start;
    while (p < this.#end) {
      const line = this.#line;
      this.#recordLine = line;
      const start = p;
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
      starts[count] = start;
      ends[count] = next;
      count++;
    }
    out.count = count;
    return out;
  }

  /**
   * The `recordsOnly` scan: where every complete record from `#start` is. A record without
   * a quote before its line end ends there (found with `indexOf`); one with a quote is
   * walked a byte at a time, quotes toggling, to the first line end outside them.
   */
  #findRecords(out: PackedRecords): PackedRecords {
    const buffer = this.#buffer;
    const end = this.#end;
    const view = buffer.subarray(0, end);
    const { lines, starts, ends } = out;
    let count = 0;
    let p = this.#start;
    let line = this.#line;
    let quote = view.indexOf(CHAR_QUOTE, p);
    if (quote < 0) quote = end;
    while (p < end) {
      let lf = view.indexOf(CHAR_LF, p);
      let newlines = 1;
      if (quote < p) {
        quote = view.indexOf(CHAR_QUOTE, p);
        if (quote < 0) quote = end;
      }
      if (quote < (lf < 0 ? end : lf)) {
        // Quoted fields: the record ends at the first line end outside quotes.
        let quoted = false;
        newlines = 0;
        lf = -1;
        for (let q = p; q < end; q++) {
          const c = buffer[q];
          if (c === CHAR_QUOTE) quoted = !quoted;
          else if (c === CHAR_LF) {
            newlines++;
            if (!quoted) {
              lf = q;
              break;
            }
          }
        }
      }
      let next: number;
      if (lf >= 0) {
        next = lf + 1;
      } else if (this.#eof) {
        next = end;
      } else {
        break; // incomplete: the next read completes it
      }
      const blank = next - p === (lf >= 0 ? 1 : 0) ||
        (next - p === 2 && buffer[p] === CHAR_CR && lf >= 0);
      if (!blank) {
        lines[count] = line;
        starts[count] = p;
        ends[count] = next;
        count++;
      }
      line += newlines;
      p = next;
    }
    this.#start = p;
    this.#line = line;
    out.count = count;
    return out;
  }

  /**
   * Parses `bytes`, in memory, as whole records of agency `agency` (the rows of a batch
   * frame: no byte order mark, the last record may lack its line end). The result, like
   * `next()`'s, is valid until the next call; the bytes themselves are changed where a
   * quoted field held doubled quotes.
   *
   * @throws {CsvRowError} at the first record that does not parse, naming its line.
   */
  parseBytes(bytes: Uint8Array, agency: number): PackedRecords {
    this.#buffer = bytes;
    this.#start = 0;
    this.#end = bytes.length;
    this.#eof = true;
    this.#bomChecked = true;
    this.#line = 1;
    this.#agency = agency;
    this.#pendingError = undefined;
    const out = this.#parse();
    const error = this.#pendingError as CsvFormatError | undefined;
    this.#pendingError = undefined;
    if (error !== undefined) {
      throw new CsvRowError(error, out.count, this.#recordLine);
    }
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
    let ok = end > start && end - start <= MAX_DIGITS;
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

/** Records arrays for at least `count` records. */
function packedRecords(count: number): PackedRecords {
  const packed = packedCapacity(undefined, count);
  const size = packed.numbers.length;
  return {
    ...packed,
    lines: new Int32Array(size),
    starts: new Int32Array(size),
    ends: new Int32Array(size),
  };
}
