/**
 * {@linkcode Outbox}: the replies of one connection, written in the order
 * they were queued even when they become ready out of order.
 *
 * @module
 */

import { type ByteWriter, writeAll } from "../../util/mod.ts";

/**
 * The ordered reply queue of a connection. A reply may be bytes or a promise
 * of them (a BATCH_RESULT that waits for the disk); each is written once every
 * earlier one is, so a client may pipeline requests and read the answers in
 * order.
 */
export class Outbox {
  #conn: ByteWriter;
  #queue: Promise<void>[] = [];
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
    const previous = this.#queue.at(-1);
    const next = (async () => {
      await previous;
      const bytes = await reply;
      if (this.version !== undefined) bytes[1] = this.version;
      await writeAll(this.#conn, bytes);
    })();
    next.catch(() => {}); // Observed by whoever awaits the outbox.
    this.#queue.push(next);
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
}
