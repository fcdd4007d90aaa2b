/**
 * The commit journal of the bet store: a small append-only text file beside
 * the CSV (`bets.csv.journal`) that says which bytes of the CSV were committed
 * and what they were.
 *
 * The CSV alone cannot say that: after a crash it may end in rows that were
 * written but never acknowledged, or in half a row. So each group commit
 * writes and fsyncs the rows first, THEN appends one record per batch (and
 * per "agency done") to the journal and fsyncs it; only then are the acks
 * sent. A record holds the CSV size at the end of its batch, so at startup the
 * last valid record names the committed size of the CSV, and every byte past
 * it is cut.
 *
 * One record a line, ASCII, fields separated by one space, the last field the
 * CRC-32 of everything before it (8 lowercase hex digits):
 *
 * ```text
 * base 80000 4123456 1a2b3c4d        rows and bytes of a CSV adopted without a journal
 * batch 3 17 100 4128901 5e6f7a8b    agency 3, batch id 17, 100 rows, CSV size after it
 * rows 250 4141000 0c1d2e3f          rows stored without a batch id, CSV size after them
 * done 3 4141000 9a8b7c6d            agency 3 is done; CSV size at that point
 * ```
 *
 * A rejected batch is journaled as a batch of 0 rows: it still uses up its id.
 * A torn last record (no line end, bad checksum or bad syntax) is what a crash
 * in the middle of an append leaves; it is dropped. A bad record followed by
 * good ones is not a crash but damage, and is refused.
 *
 * @module
 */

/** A record of the commit journal. */
export type JournalRecord =
  | { kind: "base"; rows: number; end: number }
  | { kind: "rows"; rows: number; end: number }
  | { kind: "batch"; agency: number; batchId: number; rows: number; end: number }
  | { kind: "done"; agency: number; end: number };

/** A journal that is damaged, not merely torn at its end. */
export class JournalError extends Error {
  /** Creates the error; `message` names the file, line and problem. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "JournalError";
  }
}

/** What a journal says, as rebuilt by {@linkcode parseJournal}. */
export interface JournalState {
  /** Bytes of the journal up to the end of its last valid record. */
  validBytes: number;
  /** Bytes past it: a torn last record, dropped by recovery. */
  tornBytes: number;
  /** Valid records. */
  records: number;
  /** Batch records (stored or rejected batches). */
  batches: number;
  /** Committed size of the CSV: the `end` of the last record (0 with no records). */
  committedBytes: number;
  /** Committed rows of the CSV. */
  rows: number;
  /** Last batch id stored (or rejected) for each agency. */
  lastBatch: Map<number, number>;
  /** Ids of the batches rejected (journaled with 0 rows), by agency. */
  rejected: Map<number, Set<number>>;
  /** Agencies that said they are done. */
  done: Set<number>;
}

/** The journal path of a store file: `<path>.journal`. */
export function journalPathOf(storePath: string): string {
  return `${storePath}.journal`;
}

/** One record as a journal line, checksum and `\n` included. */
export function encodeJournalRecord(record: JournalRecord): string {
  let body: string;
  switch (record.kind) {
    case "base":
    case "rows":
      body = `${record.kind} ${record.rows} ${record.end}`;
      break;
    case "batch":
      body = `batch ${record.agency} ${record.batchId} ${record.rows} ${record.end}`;
      break;
    case "done":
      body = `done ${record.agency} ${record.end}`;
      break;
  }
  return `${body} ${hex32(crc32(body))}\n`;
}

/** Options of {@linkcode parseJournal}. */
export interface ParseJournalOptions {
  /** File name used in error messages. @default "journal" */
  path?: string;
}

const LINE_FEED = 0x0a;
const latin1 = new TextDecoder("latin1");

/**
 * Replays a journal's bytes into the state it describes. A bad last record is
 * counted as torn (`tornBytes`); a bad record followed by a good one throws.
 *
 * @throws {JournalError} `bets.csv.journal:12: Bad checksum` when the journal is damaged.
 */
export function parseJournal(bytes: Uint8Array, options: ParseJournalOptions = {}): JournalState {
  const path = options.path ?? "journal";
  const state: JournalState = {
    validBytes: 0,
    tornBytes: 0,
    records: 0,
    batches: 0,
    committedBytes: 0,
    rows: 0,
    lastBatch: new Map(),
    rejected: new Map(),
    done: new Set(),
  };
  let start = 0;
  let line = 0;
  /** The first bad record, kept until we know whether anything valid follows it. */
  let bad: { line: number; problem: string } | undefined;
  while (start < bytes.length) {
    line++;
    const newline = bytes.indexOf(LINE_FEED, start);
    if (newline < 0) {
      bad ??= { line, problem: "Record without a line end" };
      break;
    }
    const text = latin1.decode(bytes.subarray(start, newline));
    start = newline + 1;
    const parsed = parseRecord(text);
    if (typeof parsed === "string") {
      bad ??= { line, problem: parsed };
      continue;
    }
    if (bad !== undefined) {
      throw new JournalError(
        `${path}:${bad.line}: ${bad.problem}, and valid records follow it (damaged journal)`,
      );
    }
    if (parsed.end < state.committedBytes) {
      throw new JournalError(
        `${path}:${line}: CSV size goes back: ${parsed.end} after ${state.committedBytes}`,
      );
    }
    apply(state, parsed);
    state.validBytes = start;
  }
  state.tornBytes = bytes.length - state.validBytes;
  return state;
}

function apply(state: JournalState, record: JournalRecord): void {
  state.records++;
  state.committedBytes = record.end;
  switch (record.kind) {
    case "base":
    case "rows":
      state.rows += record.rows;
      break;
    case "batch": {
      state.batches++;
      state.rows += record.rows;
      const last = state.lastBatch.get(record.agency) ?? 0;
      if (record.batchId > last) state.lastBatch.set(record.agency, record.batchId);
      if (record.rows === 0) {
        const ids = state.rejected.get(record.agency);
        if (ids === undefined) state.rejected.set(record.agency, new Set([record.batchId]));
        else ids.add(record.batchId);
      }
      break;
    }
    case "done":
      state.done.add(record.agency);
      break;
  }
}

const FIELDS: Record<JournalRecord["kind"], number> = { base: 4, rows: 4, batch: 6, done: 4 };

/** The record of a line (without its `\n`), or the problem with it. */
function parseRecord(text: string): JournalRecord | string {
  const fields = text.split(" ");
  const kind = fields[0] as JournalRecord["kind"];
  const expected = FIELDS[kind];
  if (expected === undefined) return `Unknown record kind: ${JSON.stringify(fields[0])}`;
  if (fields.length !== expected) {
    return `Expected ${expected} fields in a ${kind} record, got ${fields.length}`;
  }
  const checksum = fields[expected - 1];
  const body = text.slice(0, text.length - checksum.length - 1);
  if (checksum !== hex32(crc32(body))) return "Bad checksum";
  const numbers: number[] = [];
  for (let i = 1; i < expected - 1; i++) {
    if (!/^(0|[1-9][0-9]{0,15})$/.test(fields[i])) {
      return `Bad number: ${JSON.stringify(fields[i])}`;
    }
    numbers.push(Number(fields[i]));
  }
  switch (kind) {
    case "base":
    case "rows":
      return { kind, rows: numbers[0], end: numbers[1] };
    case "batch":
      return { kind, agency: numbers[0], batchId: numbers[1], rows: numbers[2], end: numbers[3] };
    case "done":
      return { kind, agency: numbers[0], end: numbers[1] };
  }
}

// ---------------------------------------------------------------------------
// CRC-32 (IEEE 802.3, the one of zip and PNG), over the ASCII of a record.

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of a string's UTF-16 code units taken as bytes (records are ASCII). */
export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) {
    crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff] ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function hex32(value: number): string {
  return value.toString(16).padStart(8, "0");
}
