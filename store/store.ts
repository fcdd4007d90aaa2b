/**
 * Durable, append-only storage of bets in one CSV file, with group commit and
 * a commit journal (see `journal.ts`) that makes it crash-safe.
 *
 * One writer appends to the file. A `storeBets` call made while a flush is
 * running waits for the next flush, which writes every waiting call's rows in
 * ONE write (each call's rows contiguous, in order of arrival) followed by ONE
 * `fdatasync`, then appends their journal records (the CSV size at the end of
 * each call) in ONE write followed by ONE `fdatasync`; then all of those calls
 * resolve. At the next opening, the journal's last record says how much of the
 * CSV was committed, and anything past it (rows never acknowledged, a torn
 * last row) is cut.
 *
 * @module
 */

import type { Bet } from "./bet.ts";
import { betToCsvRow, type PackedRecords, readStoreBets, readStoreBetsPacked } from "./csv/mod.ts";
import { messageOf, StoreError } from "./errors.ts";
import { encodeJournalRecord, journalPathOf } from "./journal.ts";
import { type OpenedStore, openStoreFiles, type StoreRecovery } from "./_recovery.ts";
import { writeAll } from "../util/mod.ts";

export type { StoreRecovery } from "./_recovery.ts";

/** Counters of a {@linkcode BetStore}, since it was opened. */
export interface BetStoreStats {
  /** Flushes done: one write and one fsync of the CSV each (plus one of the journal). */
  flushes: number;
  /** Rows written and fsync'd. */
  rows: number;
  /** Size of the file known to be committed, in bytes (the whole file, not only this session). */
  bytes: number;
}

/** Options of {@linkcode BetStore.open}. */
export interface BetStoreOptions {
  /** The commit journal. @default `${path}.journal` */
  journalPath?: string;
}

/** Options of {@linkcode BetStore.loadBets}. */
export interface LoadBetsOptions {
  /** Bytes read from the file at a time. @default 65536 */
  chunkSize?: number;
}

/** Identifies a batch in the journal: the agency and its batch id. */
export interface BatchKey {
  /** Agency that sent the batch. */
  agency: number;
  /** Its sequence number, 1, 2, 3... per agency. */
  batchId: number;
}

/** What a pending write adds to the journal. */
const Entry = {
  /** Nothing: a barrier. */
  None: 0,
  /** `rows`: bets stored without a batch id. */
  Rows: 1,
  /** `batch`: a batch (maybe of 0 rows: rejected). */
  Batch: 2,
  /** `done`: an agency is done. */
  Done: 3,
} as const;
type Entry = typeof Entry[keyof typeof Entry];

/** One call waiting for a flush. */
interface PendingWrite {
  bytes: Uint8Array;
  rows: number;
  entry: Entry;
  agency: number;
  batchId: number;
  resolve(): void;
  reject(error: Error): void;
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/**
 * Bets stored durably in a CSV file (`agency,first_name,last_name,document,birthdate,number`),
 * appended with group commit, and a commit journal beside it (`<path>.journal`,
 * see `journal.ts`) that makes the CSV crash-safe.
 *
 * ```ts
 * await using store = await BetStore.open("./bets.csv");
 * await store.storeBatch(bets, { agency: 3, batchId: 17 }); // written, fsync'd, journaled
 * for await (const bet of store.loadBets()) if (hasWon(bet)) winners.push(bet.document);
 * ```
 *
 * A flush writes the CSV rows of every waiting call in ONE write and ONE
 * fdatasync, then their journal records in ONE write and ONE fdatasync, and
 * only then resolves the calls. Opening the store replays the journal and cuts
 * the CSV back to the last committed size (see {@linkcode BetStore.recovery}).
 *
 * After a failed write or fsync, the store refuses every later call (the file
 * may end in a torn record and the OS may have dropped dirty pages); the next
 * opening repairs it.
 */
export class BetStore {
  readonly #path: string;
  readonly #file: Deno.FsFile;
  readonly #journal: Deno.FsFile;
  readonly #recovery: StoreRecovery;
  /** Bytes of the file written, fsync'd and journaled. */
  #durableBytes: number;
  #queue: PendingWrite[] = [];
  #queuedBytes = 0;
  /** The running flush loop, if any; it never rejects. */
  #flushing: Promise<void> | undefined;
  #failure: StoreError | undefined;
  #closing: Promise<void> | undefined;
  #flushes = 0;
  #rows = 0;

  private constructor(path: string, opened: OpenedStore) {
    this.#path = path;
    this.#file = opened.csv;
    this.#journal = opened.journal;
    this.#recovery = opened.recovery;
    this.#durableBytes = opened.recovery.bytes;
  }

  /**
   * Opens the store for appending, creating the CSV and its journal when
   * missing (the folder must exist), and recovers: replays the journal,
   * drops a torn last journal record, and cuts the CSV back to the size the
   * journal committed. A CSV found without a journal is adopted whole.
   *
   * @throws {StoreError} naming the path when a file cannot be opened, the
   *   store is in use by another process, or the journal is damaged or says
   *   more than the CSV holds.
   */
  static async open(path: string, options: BetStoreOptions = {}): Promise<BetStore> {
    const opened = await openStoreFiles(path, options.journalPath ?? journalPathOf(path));
    return new BetStore(path, opened);
  }

  /** Path of the store file, as given to {@linkcode BetStore.open}. */
  get path(): string {
    return this.#path;
  }

  /** A snapshot of the store's counters. */
  get stats(): BetStoreStats {
    return { flushes: this.#flushes, rows: this.#rows, bytes: this.#durableBytes };
  }

  /** What the opening found on disk: committed rows, last batch ids, done agencies, repairs. */
  get recovery(): StoreRecovery {
    return this.#recovery;
  }

  /**
   * Appends `bets` as contiguous rows; resolves once they are written,
   * fsync'd and journaled (a `rows` record: no batch id). Calls made while a
   * flush runs share the next flush.
   *
   * Rejects with a {@linkcode StoreError} when the write or fsync fails (every
   * call of that flush rejects), when an earlier flush failed, or after `close()`.
   */
  storeBets(bets: readonly Bet[]): Promise<void> {
    if (bets.length === 0) return this.#refusal() ?? Promise.resolve();
    return this.#store(bets, Entry.Rows, 0, 0);
  }

  /**
   * Appends a batch like {@linkcode storeBets} and journals it under its
   * agency and batch id, so that a restart knows the last batch stored for
   * each agency. An empty `bets` journals a rejected batch: no rows, but its
   * id is used up.
   */
  storeBatch(bets: readonly Bet[], key: BatchKey): Promise<void> {
    return this.#store(bets, Entry.Batch, key.agency, key.batchId);
  }

  /**
   * {@linkcode storeBatch} for `count` ready-made store rows (`validCsvRows`):
   * nothing is converted. `rows` is not copied: it must not change afterwards.
   */
  storeBatchRows(rows: Uint8Array, key: BatchKey & { count: number }): Promise<void> {
    return this.#refusal() ??
      this.#enqueue(rows, key.count, Entry.Batch, key.agency, key.batchId);
  }

  /** Journals that `agency` is done; resolves once that record is fsync'd. */
  markDone(agency: number): Promise<void> {
    return this.#refusal() ?? this.#enqueue(EMPTY, 0, Entry.Done, agency, 0);
  }

  /**
   * Streams the stored bets, in the order they were stored, never holding the
   * file whole. It yields every bet whose `storeBets` call was made before the
   * first `next()`, once their flush is done, and nothing written later.
   *
   * Iteration rejects with a `CsvFormatError` (`path:line: problem`) on a bad row.
   */
  loadBets(options: LoadBetsOptions = {}): AsyncIterableIterator<Bet> {
    const chunkSize = options.chunkSize;
    return this.#load((limit) => readStoreBets(this.#path, { chunkSize, limit }));
  }

  /**
   * {@linkcode loadBets} a chunk of the file at a time, packed: no object and
   * no string a bet (a chunk is valid until the next `next()`).
   */
  loadPacked(options: LoadBetsOptions = {}): AsyncIterableIterator<PackedRecords> {
    const chunkSize = options.chunkSize;
    return this.#load((limit) => readStoreBetsPacked(this.#path, { chunkSize, limit }));
  }

  /** Resolves once everything stored before this call is durable. */
  flushed(): Promise<void> {
    return this.#barrier();
  }

  #load<T>(open: (limit: number) => AsyncIterableIterator<T>): AsyncIterableIterator<T> {
    let rows: AsyncIterableIterator<T> | undefined;
    let ended = false;
    const start = async (): Promise<AsyncIterableIterator<T>> => {
      await this.#barrier();
      rows = open(this.#durableBytes);
      return rows;
    };
    return {
      [Symbol.asyncIterator]() {
        return this;
      },
      next(): Promise<IteratorResult<T>> {
        if (rows !== undefined) return rows.next();
        if (ended) return Promise.resolve({ value: undefined, done: true });
        return start().then((started) => started.next());
      },
      return(): Promise<IteratorResult<T>> {
        ended = true;
        if (rows?.return !== undefined) return rows.return();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  /**
   * Waits for every pending flush, then closes the files. Later calls
   * reject; calling `close()` again waits for the same close.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Same as {@linkcode BetStore.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
    this.#journal.close();
    this.#file.close();
  }

  /** The rejection a call gets when the store failed or is closed; undefined when usable. */
  #refusal(): Promise<never> | undefined {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#closing !== undefined) {
      return Promise.reject(new StoreError(`Bet store "${this.#path}" is closed`));
    }
    return undefined;
  }

  #store(bets: readonly Bet[], entry: Entry, agency: number, batchId: number): Promise<void> {
    const refusal = this.#refusal();
    if (refusal !== undefined) return refusal;
    let bytes: Uint8Array = EMPTY;
    if (bets.length > 0) {
      try {
        let text = "";
        for (const bet of bets) text += betToCsvRow(bet);
        bytes = encoder.encode(text);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#enqueue(bytes, bets.length, entry, agency, batchId);
  }

  /** Resolves once everything queued before this call is flushed (at once when nothing is). */
  #barrier(): Promise<void> {
    if (this.#flushing === undefined) return Promise.resolve();
    // An empty entry goes through the queue like any call, so the wait cannot starve.
    return this.#enqueue(EMPTY, 0, Entry.None, 0, 0).catch(() => {});
  }

  #enqueue(
    bytes: Uint8Array,
    rows: number,
    entry: Entry,
    agency: number,
    batchId: number,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ bytes, rows, entry, agency, batchId, resolve, reject });
      this.#queuedBytes += bytes.length;
      this.#flushing ??= this.#flushLoop();
    });
  }

  /** Flushes the queue until it is empty: each round takes everything queued so far. */
  async #flushLoop(): Promise<void> {
    // Let calls made in the same tick join the first flush.
    await Promise.resolve();
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      const size = this.#queuedBytes;
      this.#queue = [];
      this.#queuedBytes = 0;
      if (this.#failure !== undefined) {
        for (const pending of batch) pending.reject(this.#failure);
        continue;
      }
      let rows = 0;
      let journal = "";
      let end = this.#durableBytes;
      for (const pending of batch) {
        rows += pending.rows;
        end += pending.bytes.length;
        journal += journalLine(pending, end);
      }
      try {
        if (size > 0) {
          await writeAll(this.#file, concat(batch, size));
          await this.#file.syncData();
        }
        if (journal !== "") {
          await writeAll(this.#journal, encoder.encode(journal));
          await this.#journal.syncData();
        }
      } catch (error) {
        this.#failure = new StoreError(
          `Cannot write bet store "${this.#path}": ${messageOf(error)}`,
          { cause: error },
        );
        for (const pending of batch) pending.reject(this.#failure);
        continue;
      }
      this.#durableBytes += size;
      if (size > 0) this.#flushes++;
      this.#rows += rows;
      for (const pending of batch) pending.resolve();
    }
    this.#flushing = undefined;
  }
}

/** The journal line of a pending write whose rows end at CSV size `end` ("" for a barrier). */
function journalLine(pending: PendingWrite, end: number): string {
  switch (pending.entry) {
    case Entry.None:
      return "";
    case Entry.Rows:
      return encodeJournalRecord({ kind: "rows", rows: pending.rows, end });
    case Entry.Batch:
      return encodeJournalRecord({
        kind: "batch",
        agency: pending.agency,
        batchId: pending.batchId,
        rows: pending.rows,
        end,
      });
    case Entry.Done:
      return encodeJournalRecord({ kind: "done", agency: pending.agency, end });
  }
}

/** The bytes of every pending write, in order, in one buffer. */
function concat(batch: PendingWrite[], size: number): Uint8Array {
  if (batch.length === 1) return batch[0].bytes;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const pending of batch) {
    bytes.set(pending.bytes, offset);
    offset += pending.bytes.length;
  }
  return bytes;
}
