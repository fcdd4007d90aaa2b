/**
 * The in-flight batch window of a lottery run: sealed batch frames that
 * were sent (or are to be sent again after a reconnect) and wait for their
 * ack, oldest first. Acks come back in order; each one takes the oldest batch
 * off the window.
 *
 * @module
 */

import { ErrorCode, ProtocolError } from "../../protocol/mod.ts";

/** Batches that may be on the wire without their ack (pipelining window). */
export const BATCH_WINDOW = 64;
/** Unsent frames are written together, up to this many bytes a write. */
const WRITE_BYTES = 64 * 1024;

/** One batch sent (or to be sent again) and waiting for its ack. */
export interface InFlight {
  /** The batch's id in the agency's sequence, from 1. */
  batchId: number;
  /** Bets in it. */
  count: number;
  /** The whole batch frame, kept to be resent as is after a reconnect. */
  frame: Uint8Array;
  /** Line of the file where each of its records starts (to name a line the server refuses). */
  lines: Int32Array;
  /** Whether it was written on the current connection. */
  sent: boolean;
}

/** Where frames are written: a {@linkcode Peer}. */
export interface FrameWriter {
  /** Writes every byte. */
  write(bytes: Uint8Array): Promise<void>;
}

/** The batches waiting for their ack, oldest first. */
export class BatchWindow {
  #batches: InFlight[] = [];

  /** Batches not yet acknowledged. */
  get size(): number {
    return this.#batches.length;
  }

  /** Adds a sealed batch, to be sent by the next {@linkcode BatchWindow.send}. */
  add(batchId: number, batch: { count: number; frame: Uint8Array; lines: Int32Array }): void {
    const { count, frame, lines } = batch;
    this.#batches.push({ batchId, count, frame, lines, sent: false });
  }

  /** Writes every unsent batch, up to 64 KiB of frames a write, and marks them sent. */
  async send(writer: FrameWriter): Promise<void> {
    let unsent: InFlight[] = [];
    let bytes = 0;
    for (const batch of this.#batches) {
      if (batch.sent) continue;
      unsent.push(batch);
      bytes += batch.frame.length;
      if (bytes < WRITE_BYTES) continue;
      await writeTogether(writer, unsent);
      unsent = [];
      bytes = 0;
    }
    if (unsent.length > 0) await writeTogether(writer, unsent);
  }

  /**
   * Takes the oldest batch off the window: the ack of `batchId` must be its.
   *
   * @throws {ProtocolError} `Ack out of order: batch 7 (expected 6)`
   */
  acknowledge(batchId: number): InFlight {
    const oldest = this.#batches[0];
    if (oldest === undefined || batchId !== oldest.batchId) {
      throw new ProtocolError(
        `Ack out of order: batch ${batchId} (expected ${oldest?.batchId})`,
        { code: ErrorCode.MALFORMED },
      );
    }
    return this.#batches.shift()!;
  }

  /** After a reconnect: every batch of the window is sent again, same ids. */
  resendAll(): void {
    for (const batch of this.#batches) batch.sent = false;
  }
}

/** Writes the frames of `batches` in one write, and marks them sent. */
async function writeTogether(writer: FrameWriter, batches: InFlight[]): Promise<void> {
  let size = 0;
  for (const batch of batches) size += batch.frame.length;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const batch of batches) {
    bytes.set(batch.frame, offset);
    offset += batch.frame.length;
  }
  await writer.write(bytes);
  for (const batch of batches) batch.sent = true;
}
