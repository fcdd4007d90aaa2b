/**
 * The counts of a lottery run and the lines that report them: `progreso`
 * about once a second on long runs, and the closing `resumen`.
 *
 * @module
 */

import { log } from "../log.ts";

/** How often a long run reports progress. */
const PROGRESS_EVERY_MS = 1000;

/** The end a `resumen` line reports. */
export type RunResult = "success" | "fail" | "in_progress";

/** Bets acknowledged and rejected, batches and reconnects of one run, since it started. */
export class Tally {
  #sent = 0;
  #rejected = 0;
  #batches = 0;
  #reconnects = 0;
  #started = performance.now();
  #nextReport = this.#started + PROGRESS_EVERY_MS;

  /** Bets the server stored. */
  get sent(): number {
    return this.#sent;
  }

  /** Bets the server rejected. */
  get rejected(): number {
    return this.#rejected;
  }

  /** The id of the next batch: 1, 2, ... */
  nextBatchId(): number {
    return ++this.#batches;
  }

  /** A batch of `count` bets was acknowledged: stored, or rejected. */
  acknowledged(count: number, stored: boolean): void {
    if (stored) this.#sent += count;
    else this.#rejected += count;
    if (performance.now() >= this.#nextReport) this.#reportProgress();
  }

  /** A reconnect was started. */
  reconnected(): void {
    this.#reconnects++;
  }

  /** The `resumen` line: bets acknowledged and rejected, batches, winners, time. */
  logSummary(result: RunResult, context: { clientId: number; winners: number }): void {
    const elapsed = (performance.now() - this.#started) / 1000;
    log.info({
      action: "resumen",
      result,
      client_id: context.clientId,
      apuestas_enviadas: this.#sent,
      apuestas_rechazadas: this.#rejected,
      lotes: this.#batches,
      ganadores: context.winners,
      segundos: elapsed.toFixed(3),
      reconexiones: this.#reconnects,
    });
  }

  #reportProgress(): void {
    const now = performance.now();
    this.#nextReport = now + PROGRESS_EVERY_MS;
    const seconds = (now - this.#started) / 1000;
    log.info({
      action: "progreso",
      result: "in_progress",
      apuestas_enviadas: this.#sent,
      apuestas_por_segundo: Math.round(this.#sent / seconds),
    });
  }
}
