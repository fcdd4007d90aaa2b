/**
 * Durable, append-only storage of bets in one CSV file, with group commit.
 *
 * One writer appends to the file. A `storeBets` call made while a flush is
 * running waits for the next flush, which writes every waiting call's rows in
 * ONE write (each call's rows contiguous, in order of arrival) followed by ONE
 * `fdatasync`; then all of those calls resolve. The store tracks the byte size
 * of the file known to be durable after each flush (`stats.bytes`), which is
 * what a later crash recovery needs to cut a torn last record.
 *
 * @module
 */

import type { Bet } from "./bet.ts";
import { betToCsvRow, readStoreBets } from "./csv.ts";

/** A failure of the bet store: opening, writing or syncing its file, or use after close. */
export class StoreError extends Error {
  /** Creates a store error; pass the underlying error as `cause`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreError";
  }
}

/** Counters of a {@linkcode BetStore}, since it was opened. */
export interface BetStoreStats {
  /** Flushes done: one write and one fsync each. */
  flushes: number;
  /** Rows written and fsync'd. */
  rows: number;
  /** Size of the file known to be durable, in bytes (the whole file, not only this session). */
  bytes: number;
}

/** Options of {@linkcode BetStore.loadBets}. */
export interface LoadBetsOptions {
  /** Bytes read from the file at a time. @default 65536 */
  chunkSize?: number;
}

/** One `storeBets` call waiting for a flush. */
interface PendingWrite {
  bytes: Uint8Array;
  rows: number;
  resolve(): void;
  reject(error: Error): void;
}

const encoder = new TextEncoder();

/**
 * Bets stored durably in a CSV file (`agency,first_name,last_name,document,birthdate,number`),
 * appended with group commit.
 *
 * ```ts
 * await using store = await BetStore.open("./bets.csv");
 * await store.storeBets(bets); // written and fsync'd
 * for await (const bet of store.loadBets()) if (hasWon(bet)) winners.push(bet.document);
 * ```
 *
 * After a failed write or fsync, the store refuses every later `storeBets`
 * (the file may end in a torn record and the OS may have dropped dirty pages).
 */
export class BetStore {
  readonly #path: string;
  readonly #file: Deno.FsFile;
  /** Bytes of the file written and fsync'd. */
  #durableBytes: number;
  #queue: PendingWrite[] = [];
  #queuedBytes = 0;
  /** The running flush loop, if any; it never rejects. */
  #flushing: Promise<void> | undefined;
  #failure: StoreError | undefined;
  #closing: Promise<void> | undefined;
  #flushes = 0;
  #rows = 0;

  private constructor(path: string, file: Deno.FsFile, size: number) {
    this.#path = path;
    this.#file = file;
    this.#durableBytes = size;
  }

  /**
   * Opens the store file for appending, creating it when missing. Its folder
   * must exist.
   *
   * @throws {StoreError} naming the path when the file cannot be opened.
   */
  static async open(path: string): Promise<BetStore> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { append: true, create: true });
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
    try {
      const info = await file.stat();
      return new BetStore(path, file, info.size);
    } catch (error) {
      file.close();
      throw new StoreError(`Cannot open bet store "${path}": ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  /** Path of the store file, as given to {@linkcode BetStore.open}. */
  get path(): string {
    return this.#path;
  }

  /** A snapshot of the store's counters. */
  get stats(): BetStoreStats {
    return { flushes: this.#flushes, rows: this.#rows, bytes: this.#durableBytes };
  }

  /**
   * Appends `bets` as contiguous rows; resolves once they are written and
   * fsync'd. Calls made while a flush runs share the next write and fsync.
   *
   * Rejects with a {@linkcode StoreError} when the write or fsync fails (every
   * call of that flush rejects), when an earlier flush failed, or after `close()`.
   */
  storeBets(bets: readonly Bet[]): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#closing !== undefined) {
      return Promise.reject(new StoreError(`Bet store "${this.#path}" is closed`));
    }
    if (bets.length === 0) return Promise.resolve();
    let bytes: Uint8Array;
    try {
      let text = "";
      for (const bet of bets) text += betToCsvRow(bet);
      bytes = encoder.encode(text);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#enqueue(bytes, bets.length);
  }

  /**
   * Streams the stored bets, in the order they were stored, never holding the
   * file whole. It yields every bet whose `storeBets` call was made before the
   * first `next()`, once their flush is done, and nothing written later.
   *
   * Iteration rejects with a `CsvFormatError` (`path:line: problem`) on a bad row.
   */
  loadBets(options: LoadBetsOptions = {}): AsyncIterableIterator<Bet> {
    let rows: AsyncIterableIterator<Bet> | undefined;
    let ended = false;
    const start = async (): Promise<AsyncIterableIterator<Bet>> => {
      await this.#barrier();
      rows = readStoreBets(this.#path, { chunkSize: options.chunkSize, limit: this.#durableBytes });
      return rows;
    };
    return {
      [Symbol.asyncIterator]() {
        return this;
      },
      next(): Promise<IteratorResult<Bet>> {
        if (rows !== undefined) return rows.next();
        if (ended) return Promise.resolve({ value: undefined, done: true });
        return start().then((started) => started.next());
      },
      return(): Promise<IteratorResult<Bet>> {
        ended = true;
        if (rows?.return !== undefined) return rows.return();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  /**
   * Waits for every pending flush, then closes the file. Later `storeBets`
   * calls reject; calling `close()` again waits for the same close.
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
    this.#file.close();
  }

  /** Resolves once everything queued before this call is flushed (at once when nothing is). */
  #barrier(): Promise<void> {
    if (this.#flushing === undefined) return Promise.resolve();
    // An empty entry goes through the queue like any call, so the wait cannot starve.
    return this.#enqueue(new Uint8Array(0), 0).catch(() => {});
  }

  #enqueue(bytes: Uint8Array, rows: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ bytes, rows, resolve, reject });
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
      for (const pending of batch) rows += pending.rows;
      try {
        if (size > 0) {
          await writeAll(this.#file, concat(batch, size));
          await this.#file.syncData();
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

/** Writes every byte, looping over short writes. */
async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
}

function folderOf(path: string): string {
  const slash = path.lastIndexOf("/");
  if (slash < 0) return ".";
  return slash === 0 ? "/" : path.slice(0, slash);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
