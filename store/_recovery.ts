/**
 * Opening a bet store and recovering it: the CSV and its journal are opened
 * (created when missing, the journal atomically), the journal is locked and
 * replayed, a torn last journal record is dropped, and the CSV is cut back to
 * the size the journal committed. A CSV found without a journal is adopted
 * whole. What was found is a {@linkcode StoreRecovery}.
 *
 * @module
 */

import { CsvFormatError, readStoreBetsPacked } from "./csv/mod.ts";
import { messageOf, StoreError } from "./errors.ts";
import { encodeJournalRecord, JournalError, type JournalState, parseJournal } from "./journal.ts";
import { writeAll } from "../util/mod.ts";

/** What `BetStore.open` found on disk and repaired. */
export interface StoreRecovery {
  /** Committed rows in the CSV (every one of them acknowledged once). */
  bets: number;
  /** Committed size of the CSV, in bytes. */
  bytes: number;
  /** Bytes cut from the end of the CSV: rows written but never committed, or half a row. */
  truncatedBytes: number;
  /** Bytes cut from the end of the journal: a torn last record. */
  journalTruncatedBytes: number;
  /** Batches in the journal (stored or rejected). */
  batches: number;
  /** Last batch id committed for each agency. */
  lastBatch: ReadonlyMap<number, number>;
  /** Ids of the batches committed as rejected (0 rows), by agency. */
  rejected: ReadonlyMap<number, ReadonlySet<number>>;
  /** Agencies whose "done" is committed. */
  done: ReadonlySet<number>;
  /** Whether the journal was created by this opening. */
  journalCreated: boolean;
  /** Whether an existing CSV without a journal was adopted whole (a `base` record). */
  adopted: boolean;
}

/** The two files of an open store and what the opening found in them. */
export interface OpenedStore {
  /** The CSV, positioned at its end. */
  csv: Deno.FsFile;
  /** The journal, locked, positioned at its end. */
  journal: Deno.FsFile;
  /** What was found and repaired. */
  recovery: StoreRecovery;
}

/**
 * Opens and recovers the store at `path` whose journal is `journalPath` (see the module
 * comment); the files are closed again when it throws.
 *
 * @throws {StoreError} naming the path when a file cannot be opened, the
 *   store is in use by another process, or the journal is damaged or says
 *   more than the CSV holds.
 */
export async function openStoreFiles(path: string, journalPath: string): Promise<OpenedStore> {
  let csv: Deno.FsFile;
  try {
    csv = await Deno.open(path, { read: true, write: true, create: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new StoreError(
        `Cannot open bet store "${path}": folder "${folderOf(path)}" does not exist`,
        { cause: error },
      );
    }
    throw new StoreError(`Cannot open bet store "${path}": ${messageOf(error)}`, {
      cause: error,
    });
  }
  let journal: Deno.FsFile | undefined;
  try {
    const csvSize = (await csv.stat()).size;
    let adopted = false;
    let journalCreated = false;
    if (!(await exists(journalPath))) {
      // A CSV written before journals existed (or whose journal was deleted): all of it counts.
      const base = csvSize === 0 ? "" : encodeJournalRecord({
        kind: "base",
        rows: await countRows(path, csvSize),
        end: csvSize,
      });
      await createJournal(journalPath, base);
      adopted = csvSize > 0;
      journalCreated = true;
    }
    journal = await Deno.open(journalPath, { read: true, write: true });
    if (!(await journal.tryLock(true))) {
      throw new StoreError(
        `Cannot open bet store "${path}": in use by another process (journal "${journalPath}" is locked)`,
      );
    }
    const state = parseJournal(await readWhole(journal), { path: journalPath });
    const truncatedBytes = await cutBack(csv, { path, size: csvSize, state });
    if (state.tornBytes > 0) {
      await journal.truncate(state.validBytes);
      await journal.syncData();
    }
    await journal.seek(0, Deno.SeekMode.End);
    await csv.seek(0, Deno.SeekMode.End);
    return {
      csv,
      journal,
      recovery: {
        bets: state.rows,
        bytes: state.committedBytes,
        truncatedBytes,
        journalTruncatedBytes: state.tornBytes,
        batches: state.batches,
        lastBatch: state.lastBatch,
        rejected: state.rejected,
        done: state.done,
        journalCreated,
        adopted,
      },
    };
  } catch (error) {
    journal?.close();
    csv.close();
    if (error instanceof StoreError) throw error;
    if (error instanceof JournalError || error instanceof CsvFormatError) {
      throw new StoreError(`Cannot recover bet store "${path}": ${error.message}`, {
        cause: error,
      });
    }
    throw new StoreError(`Cannot open bet store "${path}": ${messageOf(error)}`, {
      cause: error,
    });
  }
}

const encoder = new TextEncoder();

/**
 * Cuts the CSV back to the size the journal committed; returns the bytes cut.
 * A CSV shorter than that lost committed rows: refused, never "repaired".
 */
async function cutBack(
  csv: Deno.FsFile,
  context: { path: string; size: number; state: JournalState },
): Promise<number> {
  const { path, size, state } = context;
  if (size < state.committedBytes) {
    throw new StoreError(
      `Cannot recover bet store "${path}": it holds ${size} bytes but its journal committed ` +
        `${state.committedBytes} (the CSV was truncated or replaced)`,
    );
  }
  if (size === state.committedBytes) return 0;
  await csv.truncate(state.committedBytes);
  await csv.syncData();
  return size - state.committedBytes;
}

/** Counts the rows of a CSV adopted without a journal (every row must parse). */
async function countRows(path: string, size: number): Promise<number> {
  let rows = 0;
  for await (const chunk of readStoreBetsPacked(path, { limit: size })) rows += chunk.count;
  return rows;
}

/**
 * Creates a journal whose first content is `text`, atomically: written to a
 * temporary file, fsync'd, renamed into place, and the folder fsync'd. So a
 * journal that exists always holds at least its first record.
 */
async function createJournal(path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp`;
  {
    using file = await Deno.open(temporary, { write: true, create: true, truncate: true });
    await writeAll(file, encoder.encode(text));
    await file.syncData();
  }
  await Deno.rename(temporary, path);
  await syncFolder(folderOf(path));
}

/** fsyncs a folder so that a file created or renamed in it survives a power cut (best effort). */
async function syncFolder(path: string): Promise<void> {
  try {
    using folder = await Deno.open(path, { read: true });
    await folder.sync();
  } catch {
    // Not every platform lets a folder be opened or synced; the data files are synced anyway.
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Every byte of an open file, from its start. */
async function readWhole(file: Deno.FsFile): Promise<Uint8Array> {
  const size = (await file.stat()).size;
  const bytes = new Uint8Array(size);
  let offset = 0;
  while (offset < size) {
    const count = await file.read(bytes.subarray(offset));
    if (count === null) break;
    offset += count;
  }
  return bytes.subarray(0, offset);
}

function folderOf(path: string): string {
  const slash = path.lastIndexOf("/");
  if (slash < 0) return ".";
  return slash === 0 ? "/" : path.slice(0, slash);
}
