/**
 * {@linkcode Outbox}: the replies of one connection, written in the order
 * they were queued even when they become ready out of order, and written
 * together when several are ready at once.
 *
 * @module
 */

import { type ByteWriter, writeAll } from "../../util/mod.ts";

/** A queued reply: its bytes once ready, and who waits for it to be written. */
interface Entry {
  bytes: Uint8Array | undefined;
  /** Why the reply could not be made; the connection's later replies fail with it too. */
  failure: { error: unknown } | undefined;
  written: PromiseWithResolvers<void>;
}

/**
 * The ordered reply queue of a connection. A reply may be bytes or a promise
 * of them (a BATCH_RESULT that waits for the disk); each is written once every
 * earlier one is, so a client may pipeline requests and read the answers in
 * order. The replies ready at the head of the queue go out in one write (the
 * acks of one group commit, say): one system call, one wake-up of the peer.
 */
export class Outbox {
  #conn: ByteWriter;
  /** Replies not written yet, oldest first. */
  #unwritten: Entry[] = [];
  /** Each queued reply's "written" promise, for {@linkcode shift} and {@linkcode flush}. */
  #queue: Promise<void>[] = [];
  #writing = false;
  /** The first failure (a reply that could not be made, a write that failed): every later reply fails with it. */
  #failure: { error: unknown } | undefined;
  /**
   * The connection's protocol version once known: byte 1 of every reply is set to it, so a
   * version-1 client is answered in version 1 and a version-2 one in version 2.
   */
  version: number | undefined;

  /** An empty queue that writes to `conn`. */
  constructor(conn: ByteWriter) {
    this.#conn = conn;
  }

  /** Replies queued and not yet awaited by {@linkcode shift} or {@linkcode flush}. */
  get size(): number {
    return this.#queue.length;
  }

  /** Queues bytes (or a promise of them) to be written after every earlier reply. */
  send(reply: Uint8Array | Promise<Uint8Array>): void {
    const entry: Entry = { bytes: undefined, failure: undefined, written: Promise.withResolvers() };
    entry.written.promise.catch(() => {}); // Observed by whoever awaits the outbox.
    this.#unwritten.push(entry);
    this.#queue.push(entry.written.promise);
    if (reply instanceof Uint8Array) {
      entry.bytes = reply;
      this.#pump();
      return;
    }
    reply.then((bytes) => {
      entry.bytes = bytes;
      this.#pump();
    }, (error: unknown) => {
      entry.failure = { error };
      this.#pump();
    });
  }

  /** Waits until the oldest queued reply is written; rejects if writing it failed. */
  async shift(): Promise<void> {
    await this.#queue.shift();
  }

  /** Waits until every queued reply is written; rejects if one failed. */
  async flush(): Promise<void> {
    const last = this.#queue.at(-1);
    this.#queue = [];
    await last;
  }

  /** Writes the ready replies at the head of the queue, together, until the head is not ready. */
  async #pump(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    try {
      for (;;) {
        const unwritten = this.#unwritten;
        const head = unwritten[0];
        if (head === undefined || (head.bytes === undefined && head.failure === undefined)) return;
        this.#failure ??= head.failure;
        if (this.#failure !== undefined) {
          for (const entry of unwritten.splice(0)) entry.written.reject(this.#failure.error);
          return;
        }
        let ready = 0;
        let size = 0;
        while (ready < unwritten.length && unwritten[ready].bytes !== undefined) {
          size += unwritten[ready].bytes!.length;
          ready++;
        }
        const batch = unwritten.splice(0, ready);
        try {
          await writeAll(this.#conn, this.#join(batch, size));
        } catch (error) {
          this.#failure = { error };
          for (const entry of batch) entry.written.reject(error);
          continue; // the rest fails with it
        }
        for (const entry of batch) entry.written.resolve();
      }
    } finally {
      this.#writing = false;
    }
  }

  /** The replies' bytes in one buffer (the one reply itself when alone), in the connection's version. */
  #join(batch: Entry[], size: number): Uint8Array {
    const version = this.version;
    if (batch.length === 1) {
      const bytes = batch[0].bytes!;
      if (version !== undefined) bytes[1] = version;
      return bytes;
    }
    const out = new Uint8Array(size);
    let offset = 0;
    for (const entry of batch) {
      out.set(entry.bytes!, offset);
      if (version !== undefined) out[offset + 1] = version;
      offset += entry.bytes!.length;
    }
    return out;
  }
}
