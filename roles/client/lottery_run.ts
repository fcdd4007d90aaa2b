/**
 * An agency's lottery run, a phase machine: `bets` (stream the bets in
 * numbered batches through the window), `done` (AGENCY_DONE), `winners`
 * (WINNERS_QUERY), then `finished`, or `bad_file` when the bets file has a
 * bad line. When the connection drops it reconnects and resumes where it was.
 *
 * The bets go as the file's own records (BET_ROWS): the client finds where
 * each record ends and the server parses them. A record the server cannot
 * parse comes back MALFORMED; the client then parses that batch itself to
 * name the file's line, and stops there.
 *
 * @module
 */

import {
  BET_BATCH_HEADER_SIZE,
  BetRowsEncoder,
  ErrorCode,
  errorCodeName,
  HEADER_SIZE,
  MessageType,
} from "../../protocol/mod.ts";
import {
  AgencyRowsParser,
  type Bet,
  CsvFormatError,
  CsvRowError,
  type PackedRecords,
  readAgencyRecords,
} from "../../store/mod.ts";
import { EXIT_FAIL, EXIT_OK } from "../../util/mod.ts";
import type { ClientConfig } from "../config/mod.ts";
import { log } from "../log.ts";
import { describe, stopped } from "./_outcome.ts";
import { type Backoff, waitToRetry } from "./backoff.ts";
import type { Link } from "./connect.ts";
import { ConnectError, isRetryable, ServerError } from "./errors.ts";
import type { Peer } from "./peer.ts";
import { type RunResult, Tally } from "./progress.ts";
import { oneBet } from "./single_bet.ts";
import { BATCH_WINDOW, BatchWindow, type InFlight } from "./window.ts";

/** A batch the server refused as rows it cannot parse: the run stops at its bad line. */
class RefusedRows extends Error {
  readonly fileError: CsvFormatError;

  constructor(fileError: CsvFormatError) {
    super(fileError.message);
    this.fileError = fileError;
  }
}

/** What a {@linkcode LotteryRun} needs besides its link. */
export interface LotteryRunOptions {
  /** The client's configuration. */
  config: ClientConfig;
  /** Aborting it stops the run at once, with exit code 0. */
  signal: AbortSignal;
  /** The bet of exercise 5, sent instead of the bets file. */
  bet?: Bet;
  /** The pause between reconnects without a reply. @default DEFAULT_BACKOFF */
  backoff?: Backoff;
}

/** Where a lottery run is: what a reconnect resumes. */
type Phase = "bets" | "done" | "winners" | "finished" | "bad_file";

/**
 * An agency's lottery run: streams its bets file in numbered batches, says it
 * is done, asks for its winners. When the connection drops it reconnects and
 * resumes where it was: batches not yet acknowledged are sent again with the
 * same ids (the server stores each id once), then AGENCY_DONE or
 * WINNERS_QUERY again if that is where it was.
 */
export class LotteryRun {
  #link: Link;
  #config: ClientConfig;
  #signal: AbortSignal;
  #backoff: Backoff | undefined;
  #single: Bet | undefined;
  /** The file's records, a chunk at a time: where each one is (no field parsed here). */
  #source: AsyncIterator<PackedRecords>;
  /** The chunk being put in batches (valid until the next `#source.next()`), or none yet. */
  #chunk: PackedRecords | undefined;
  /** Next bet of `#chunk` to put in a batch. */
  #index = 0;
  #sourceDone = false;
  #peer: Peer | undefined;
  #phase: Phase = "bets";
  #window = new BatchWindow();
  /** The batch being filled, as its frame. */
  #encoder: BetRowsEncoder;
  /** Line where each record of the batch being filled starts. */
  #lines: number[] = [];
  #tally = new Tally();
  #winners: string[] = [];
  /** The bets file's problem, once met: the run stops after the batches already sent. */
  #fileError: CsvFormatError | undefined;
  /** When the connection dropped with no reply since: reconnect deadlines count from it. */
  #stalledSince: number | undefined;
  /** Reconnects since the last reply (a server that accepts and then refuses is backed off). */
  #retries = 0;

  /** A run over `link`, not started yet. */
  constructor(link: Link, options: LotteryRunOptions) {
    const { config } = options;
    this.#link = link;
    this.#config = config;
    this.#signal = options.signal;
    this.#backoff = options.backoff;
    this.#single = options.bet;
    this.#source = this.#single ? oneBet(this.#single) : readAgencyRecords(config.dataPath);
    this.#encoder = new BetRowsEncoder({
      agency: config.id,
      maxBets: config.batchMaxAmount,
      version: link.version,
    });
  }

  /** Runs to the end (or the stop); returns the exit code. */
  async run(): Promise<number> {
    try {
      return await this.#run();
    } finally {
      await this.#closeSource();
    }
  }

  /** Closes the bets file if the run ends before its end; a stop logs the closure. */
  async #closeSource(): Promise<void> {
    await this.#source.return?.();
    if (this.#signal.aborted && this.#single === undefined) {
      log.info({
        action: "shutdown",
        result: "success",
        resource: "bets_file",
        path: this.#config.dataPath,
      });
    }
  }

  async #run(): Promise<number> {
    // Read the first bets before connecting: a missing or unreadable file fails at once.
    await this.#nextChunk();
    this.#peer = await this.#link.connect();
    while (this.#phase !== "finished" && this.#phase !== "bad_file") {
      try {
        await this.#step(this.#peer);
      } catch (error) {
        if (this.#signal.aborted) return this.#stopped();
        if (!isRetryable(error)) throw error;
        this.#peer = await this.#reconnectUntilUp(error);
      }
      if (this.#signal.aborted) return this.#stopped();
    }
    if (this.#fileError !== undefined) {
      // One line naming the file, the line and the problem; no AGENCY_DONE was sent.
      log.error({
        action: "client",
        result: "fail",
        client_id: this.#config.id,
        reason: this.#fileError.message,
        apuestas_enviadas: this.#tally.sent,
      });
      return EXIT_FAIL;
    }
    return this.#summary();
  }

  /** Runs the current phase to its end on `peer`. */
  async #step(peer: Peer): Promise<void> {
    const agency = this.#config.id;
    switch (this.#phase) {
      case "bets":
        await this.#sendBets(peer);
        this.#phase = this.#fileError === undefined ? "done" : "bad_file";
        return;
      case "done":
        await peer.send({ type: MessageType.AGENCY_DONE, agency });
        await peer.expect(MessageType.DONE_ACK);
        this.#madeProgress();
        log.info({
          action: "apuestas_enviadas",
          result: "success",
          client_id: agency,
          cantidad: this.#tally.sent,
        });
        this.#phase = "winners";
        return;
      case "winners": {
        await peer.send({ type: MessageType.WINNERS_QUERY, agency });
        const winners: string[] = [];
        for (;;) {
          const reply = await peer.expect(MessageType.WINNERS_REPLY);
          this.#madeProgress();
          winners.push(...reply.documents);
          if (reply.last) break;
        }
        this.#winners = winners;
        this.#phase = "finished";
        return;
      }
    }
  }

  /**
   * Streams the rest of the file in batches, then waits for every ack. At a
   * bad line of the file it stops: at a record too long to send, before the
   * batch that would hold it; at a record the server cannot parse, when that
   * batch comes back MALFORMED (the server stores nothing of it nor of the
   * batches behind it). The batches before are acknowledged, and the run ends
   * there without AGENCY_DONE (a fixed file sent again resumes: the batches
   * before come out the same and are acknowledged as duplicates).
   */
  async #sendBets(peer: Peer): Promise<void> {
    try {
      await this.#streamBets(peer);
    } catch (error) {
      if (!(error instanceof RefusedRows)) throw error;
      // Stopped at the refused batch: the server stored the batches before it, and refuses
      // the ones sent behind it (their ids come too early); nothing more is read.
      this.#fileError = error.fileError;
    }
  }

  async #streamBets(peer: Peer): Promise<void> {
    await this.#pump(peer, BATCH_WINDOW);
    const where = { path: this.#single ? "environment" : this.#config.dataPath, line: 0 };
    for (;;) {
      const chunk = this.#chunk;
      if (chunk === undefined || this.#index >= chunk.count) {
        if (this.#sourceDone) break;
        try {
          await this.#nextChunk();
        } catch (error) {
          if (!(error instanceof CsvFormatError)) throw error;
          this.#fileError = error;
          break;
        }
        continue;
      }
      if (this.#signal.aborted) return;
      const i = this.#index;
      let added: number;
      try {
        // Adjacent records go in one copy: no allocation a record (memory at 10M bets).
        added = this.#encoder.addRecords(chunk, i);
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
        where.line = chunk.lines[i];
        this.#fileError = new CsvFormatError(error.message, { ...where, cause: error });
        break;
      }
      if (added > 0) {
        for (let k = i; k < i + added; k++) this.#lines.push(chunk.lines[k]);
        this.#index = i + added;
        continue;
      }
      // The frame is full: the next record starts the next batch, after the pump (a drop
      // there reconnects and comes back here, to the same record).
      this.#seal();
      await this.#pump(peer, BATCH_WINDOW);
    }
    if (this.#fileError !== undefined) {
      this.#encoder.clear(); // only whole batches before it
      this.#lines = [];
    }
    if (this.#encoder.count > 0) this.#seal();
    await this.#pump(peer, 1);
  }

  /** Reads the next chunk of bets (the current one is no longer used). */
  async #nextChunk(): Promise<void> {
    const next = await this.#source.next();
    this.#index = 0;
    this.#chunk = next.done ? undefined : next.value;
    this.#sourceDone = next.done === true;
  }

  /** Turns the batch being filled into the next numbered batch of the window. */
  #seal(): void {
    const batchId = this.#tally.nextBatchId();
    const count = this.#encoder.count;
    const lines = Int32Array.from(this.#lines);
    this.#lines = [];
    this.#window.add(batchId, { count, frame: this.#encoder.take(batchId), lines });
  }

  /** Sends every unsent batch of the window, then reads acks while `limit` or more are unacknowledged. */
  async #pump(peer: Peer, limit: number): Promise<void> {
    await this.#window.send(peer);
    while (this.#window.size >= limit) await this.#awaitAck(peer);
  }

  async #awaitAck(peer: Peer): Promise<void> {
    const result = await peer.expect(MessageType.BATCH_RESULT);
    if (result.code === ErrorCode.STORAGE) {
      // Not stored (the server's database is down): the batch stays unacknowledged and goes
      // again, with its id, after a reconnect that backs off like connection attempts.
      throw new ServerError(result.code, result.reason);
    }
    this.#madeProgress();
    const batch = this.#window.acknowledge(result.batchId);
    if (result.code === ErrorCode.MALFORMED) throw new RefusedRows(this.#badLine(batch, result));
    const stored = result.code === ErrorCode.OK;
    if (!stored) {
      log.error({
        action: "apuesta_enviada",
        result: "fail",
        batch_id: batch.batchId,
        cantidad: batch.count,
        code: errorCodeName(result.code),
        reason: result.reason,
      });
    } else if (this.#single) {
      log.info({
        action: "apuesta_enviada",
        result: "success",
        dni: this.#single.document,
        numero: this.#single.number,
      });
    }
    this.#tally.acknowledged(batch.count, stored);
  }

  /**
   * The file's problem behind a batch the server could not parse: the client parses the
   * batch's rows as the server did and names the line of the file, e.g.
   * `.data/agency-1.csv:37: Expected 5 fields, got 4`.
   */
  #badLine(batch: InFlight, result: { reason: string }): CsvFormatError {
    const path = this.#single ? "environment" : this.#config.dataPath;
    const rows = batch.frame.slice(HEADER_SIZE + BET_BATCH_HEADER_SIZE);
    try {
      new AgencyRowsParser().parse(rows, this.#config.id);
    } catch (error) {
      if (!(error instanceof CsvRowError)) throw error;
      const line = batch.lines[error.record] + error.lineInRecord;
      return new CsvFormatError(error.reason, { path, line, cause: error });
    }
    // Rows this client parses but the server did not (another version): its reason.
    return new CsvFormatError(result.reason, { path, line: batch.lines[0] });
  }

  #madeProgress(): void {
    this.#stalledSince = undefined;
    this.#retries = 0;
  }

  /**
   * {@linkcode #reconnect} again while a new connection fails in a way worth a retry
   * (reset during the handshake, no reply to it): connect.deadline still bounds it all.
   */
  async #reconnectUntilUp(cause: unknown): Promise<Peer> {
    for (;;) {
      try {
        return await this.#reconnect(cause);
      } catch (error) {
        if (this.#signal.aborted || !isRetryable(error)) throw error;
        cause = error;
      }
    }
  }

  /**
   * Reconnects after `cause`; every unacknowledged batch will be sent again.
   * The first reconnect after a reply is immediate; the next ones back off
   * like connection attempts, and the run gives up once connect.deadline
   * passes without any reply.
   *
   * @throws {ConnectError} when the deadline has passed.
   */
  async #reconnect(cause: unknown): Promise<Peer> {
    const now = performance.now();
    this.#stalledSince ??= now;
    const deadline = this.#stalledSince + this.#config.connectDeadlineMs;
    if (this.#retries > 0) {
      if (now >= deadline) {
        throw new ConnectError(describe(cause), { attempts: this.#retries + 1, cause });
      }
      await waitToRetry(this.#retries, { backoff: this.#backoff, deadline, signal: this.#signal });
    }
    this.#retries++;
    this.#tally.reconnected();
    log.warning({
      action: "reconnect",
      result: "in_progress",
      client_id: this.#config.id,
      reason: describe(cause),
      phase: this.#phase,
      pending_batches: this.#window.size,
    });
    this.#window.resendAll();
    const peer = await this.#link.reconnect(this.#stalledSince);
    log.info({
      action: "reconnect",
      result: "success",
      client_id: this.#config.id,
      phase: this.#phase,
      resent_batches: this.#window.size,
    });
    return peer;
  }

  #summary(): number {
    const winners = this.#winners;
    log.info({ action: "consulta_ganadores", result: "success", cant_ganadores: winners.length });
    if (log.enabled("DEBUG")) {
      for (const document of winners) {
        log.debug({ action: "ganador", result: "success", dni: document });
      }
    }
    const ok = this.#tally.rejected === 0;
    this.#logTotals(ok ? "success" : "fail");
    return ok ? EXIT_OK : EXIT_FAIL;
  }

  /** Stopped by a signal: the totals so far (`in_progress`), then the closure. */
  #stopped(): number {
    this.#logTotals("in_progress");
    return stopped(this.#signal);
  }

  #logTotals(result: RunResult): void {
    this.#tally.logSummary(result, { clientId: this.#config.id, winners: this.#winners.length });
  }
}
