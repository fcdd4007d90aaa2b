/**
 * {@linkcode Session}: one connection. Its first byte says whether it speaks
 * the binary protocol or plain text lines (netcat-style echo); frames are then
 * read one after another and dispatched, and the replies go out in order.
 *
 * @module
 */

import {
  BadRowsError,
  ByteReader,
  decodeBetBatchPacked,
  decodeBetRowsPacked,
  decodeMessage,
  encodeMessage,
  encodeWinnersReplies,
  ErrorCode,
  type Frame,
  MAGIC,
  MessageType,
  messageTypeName,
  type PackedBetBatch,
  ProtocolError,
  readFrame,
} from "../../protocol/mod.ts";
import { AgencyRowsParser, type Lottery, type PackedBets } from "../../store/mod.ts";
import { describeError, writeAll } from "../../util/mod.ts";
import type { ServerConfig } from "../config/mod.ts";
import { log } from "../log.ts";
import { abortable } from "../shutdown.ts";
import { closeQuietly, remoteIp } from "./_socket.ts";
import { type AgencyKeyring, Handshake } from "./auth.ts";
import { refuseBadRows, submitBatch } from "./batches.ts";
import { RequestFailed } from "./errors.ts";
import { reportFailure } from "./failure.ts";
import { Outbox } from "./outbox.ts";
import { Watchdog } from "./watchdog.ts";

/** Longest text line the echo dialect accepts, like a frame. */
const MAX_LINE_BYTES = 8192;
/** How many batches of one connection may wait for their ack at once. */
const ACK_WINDOW = 64;

/** What a session shares with the server. */
export interface SessionContext {
  lottery: Lottery;
  /** Aborted when the server shuts down. */
  signal: AbortSignal;
  /** Timeouts. */
  config: Pick<ServerConfig, "readTimeoutMs" | "idleTimeoutMs" | "authTimeout" | "authTimeoutMs">;
  /**
   * The agencies' keys: every lottery message needs a handshake first. Without them the
   * server does not authenticate (protocol version 1 as well as 2, no handshake).
   */
  keyring?: AgencyKeyring;
  /**
   * Called once the agency's proof holds, before AUTH_OK: whether there is room for one
   * more authenticated connection (MAX_CONNECTIONS); false refuses it (BUSY).
   */
  onAuthenticated?: (session: Session) => boolean;
  /** Called once, by the session whose "agency done" completes the set. */
  onLastDone: () => void;
  /** Resolves once winners may be sent: the draw is logged and its head start is over. */
  announced: Promise<void>;
}

/**
 * One connection. Reads frames one after another; a batch is handed to the
 * lottery at once and its ack is queued behind the previous ones, so a client
 * may pipeline batches and acks come back in order.
 *
 * Batch ids make resends harmless: an id already accepted is acknowledged
 * (once durable) without being stored again, the next id is stored, and a
 * gap is an error.
 */
export class Session {
  #conn: Deno.TcpConn;
  #ctx: SessionContext;
  #ip: string;
  #agency?: number;
  #binary = false;
  #doneSent = false;
  #outbox: Outbox;
  /** Arrays of the last packed batch, reused by the next one. */
  #scratch: PackedBets | undefined;
  /** Parses BET_ROWS (made at the first one; its arrays are reused like `#scratch`). */
  #rows: AgencyRowsParser | undefined;
  #finished = Promise.withResolvers<void>();
  #closedByServer = false;
  #timedOut?: string;
  #watchdog: Watchdog;
  #handshake: Handshake;
  /** A read started while waiting for the draw; the next frame begins with its byte. */
  #pendingPeek: Promise<number | null> | undefined;

  /** A session over an accepted connection; {@linkcode run} serves it. */
  constructor(conn: Deno.TcpConn, ctx: SessionContext) {
    this.#conn = conn;
    this.#ctx = ctx;
    this.#ip = remoteIp(conn);
    this.#outbox = new Outbox(conn);
    this.#watchdog = new Watchdog((reason) => {
      this.#timedOut = reason;
      closeQuietly(this.#conn);
    });
    this.#handshake = new Handshake({
      keyring: ctx.keyring,
      lottery: ctx.lottery,
      config: ctx.config,
      outbox: this.#outbox,
      ip: this.#ip,
      nextFrame: (reader) => this.#nextFrame(reader),
      admit: () => this.#ctx.onAuthenticated?.(this) !== false,
      bindAgency: (agency) => this.#bindAgency(agency),
      onExpire: (reason) => {
        if (!this.#closedByServer && !this.#ctx.signal.aborted) {
          log.warning({
            action: "auth",
            result: "fail",
            ip: this.#ip,
            agency: this.#agency,
            reason,
          });
        }
        closeQuietly(this.#conn);
      },
    });
  }

  /** Whether the connection proved its agency (its handshake is over). */
  get authenticated(): boolean {
    return this.#handshake.authenticated;
  }

  /**
   * Closes a connection that has not authenticated, for `reason` (the handshake deadline,
   * or too many connections waiting): one `action: auth | result: fail` line.
   */
  evict(reason: string): void {
    this.#handshake.expire(reason);
  }

  /** Resolves once the session has ended and closed its connection. */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  /** Closes the socket from the server's side (shutdown). */
  close(): void {
    this.#closedByServer = true;
    try {
      this.#conn.close();
      log.info({ action: "shutdown", result: "success", resource: "connection", ip: this.#ip });
    } catch {
      // Already closed.
    }
  }

  /** Serves the connection until it ends; never rejects (a failure is logged). */
  async run(): Promise<void> {
    const reader = new ByteReader(this.#conn);
    try {
      this.#watchdog.arm(this.#ctx.config.idleTimeoutMs, "idle timeout");
      const first = await reader.peek();
      this.#watchdog.disarm();
      if (first === MAGIC) {
        this.#binary = true;
        await this.#serveFrames(reader);
      } else if (first !== null) {
        // Text lines echo and never reach the lottery: no handshake to wait for.
        this.#handshake.stopDeadline();
        await this.#serveLines(reader);
      }
      this.#watchdog.arm(this.#ctx.config.idleTimeoutMs, "idle timeout");
      await this.#outbox.flush();
    } catch (error) {
      await this.#fail(error);
    } finally {
      this.#handshake.stopDeadline();
      this.#watchdog.stop();
      this.#release();
      this.#finished.resolve();
    }
  }

  /**
   * Waits until the next frame or line has started: false at a clean end of
   * stream. Silence here is idleness; the rest of the frame is under the read
   * timeout.
   */
  async #awaitNext(reader: ByteReader): Promise<boolean> {
    const { idleTimeoutMs, readTimeoutMs } = this.#ctx.config;
    const pending = this.#pendingPeek;
    this.#pendingPeek = undefined;
    if (pending !== undefined || reader.buffered === 0) {
      this.#watchdog.arm(idleTimeoutMs, "idle timeout");
      if (await (pending ?? reader.peek()) === null) return false;
    }
    this.#watchdog.arm(readTimeoutMs, "read timeout");
    return true;
  }

  async #serveLines(reader: ByteReader): Promise<void> {
    const encoder = new TextEncoder();
    while (await this.#awaitNext(reader)) {
      const line = await reader.readLine(MAX_LINE_BYTES);
      if (line === null) break;
      log.info({ action: "receive_message", result: "success", ip: this.#ip, msg: line });
      this.#watchdog.arm(this.#ctx.config.idleTimeoutMs, "idle timeout");
      await writeAll(this.#conn, encoder.encode(`${line}\n`));
    }
  }

  /** The next frame, under the read timeout, or null at a clean end of stream. */
  async #nextFrame(reader: ByteReader): Promise<Frame | null> {
    const frame = await this.#awaitNext(reader) ? await readFrame(reader) : null;
    this.#watchdog.disarm();
    return frame;
  }

  async #serveFrames(reader: ByteReader): Promise<void> {
    while (await this.#awaitNext(reader)) {
      // A view of the reader's buffer, not a copy: each frame is done with before the next read.
      const frame = await readFrame(reader, { view: true });
      this.#watchdog.disarm();
      if (frame === null) break;
      // Replies go out in the version the client speaks.
      this.#outbox.version ??= frame.version;
      if (frame.type === MessageType.AUTH_HELLO) {
        await this.#handshake.authenticate(frame, reader);
        continue;
      }
      this.#handshake.screen(frame);
      if (frame.type === MessageType.BET_ROWS) {
        // The hot path: the rows are parsed once, into bets over the frame's bytes, which
        // become store rows; no object or string a bet. The parser's arrays are reused from
        // batch to batch: the lottery takes the bets before any await.
        let batch: PackedBetBatch;
        try {
          batch = decodeBetRowsPacked(frame, this.#rows ??= new AgencyRowsParser());
        } catch (error) {
          if (!(error instanceof BadRowsError)) throw error;
          this.#bindAgency(error.agency);
          this.#onBadRows(error);
          continue;
        }
        this.#bindAgency(batch.agency);
        await this.#onBatch(batch);
        continue;
      }
      if (frame.type === MessageType.BET_BATCH) {
        // The same, for bets encoded field by field.
        const batch = decodeBetBatchPacked(frame, { into: this.#scratch });
        this.#scratch = batch.bets;
        this.#bindAgency(batch.agency);
        await this.#onBatch(batch);
        continue;
      }
      const message = decodeMessage(frame);
      switch (message.type) {
        case MessageType.ECHO:
          log.info({
            action: "receive_message",
            result: "success",
            ip: this.#ip,
            msg: message.text,
          });
          this.#outbox.send(encodeMessage({ type: MessageType.ECHO_REPLY, text: message.text }));
          break;
        case MessageType.AGENCY_DONE:
          this.#bindAgency(message.agency);
          await this.#onDone(message.agency);
          break;
        case MessageType.WINNERS_QUERY:
          this.#bindAgency(message.agency);
          if (!(await this.#onWinnersQuery(message.agency, reader))) return;
          break;
        default:
          throw new ProtocolError(
            `Unexpected message from a client: ${messageTypeName(message.type)}`,
            { code: ErrorCode.OUT_OF_ORDER },
          );
      }
    }
  }
  /** A connection speaks for one agency: the first one it names. */
  #bindAgency(agency: number): void {
    if (!this.#ctx.lottery.isAgency(agency)) {
      throw new ProtocolError(
        `Invalid agency: ${agency} (expected an integer 1..${this.#ctx.lottery.agencies})`,
        { code: ErrorCode.BAD_AGENCY },
      );
    }
    this.#agency ??= agency;
    if (agency !== this.#agency) {
      throw new ProtocolError(
        `Agency changed: ${agency} on a connection of agency ${this.#agency}`,
        { code: ErrorCode.BAD_AGENCY },
      );
    }
  }

  async #onBatch(batch: PackedBetBatch): Promise<void> {
    this.#refuseAfterDone(batch);
    this.#outbox.send(submitBatch(this.#ctx.lottery, batch));
    if (this.#outbox.size >= ACK_WINDOW) {
      // Waiting for the peer to read its acks (or for the disk): the peer's silence counts.
      this.#watchdog.arm(this.#ctx.config.idleTimeoutMs, "idle timeout");
      await this.#outbox.shift();
      this.#watchdog.disarm();
    }
  }

  /** Rows that do not parse: answered MALFORMED; the batch id is not used, nothing is stored. */
  #onBadRows(error: BadRowsError): void {
    this.#refuseAfterDone(error);
    this.#outbox.send(refuseBadRows(error));
  }

  #refuseAfterDone(batch: { batchId: number; agency: number }): void {
    if (this.#doneSent) {
      throw new ProtocolError(
        `Bets after agency done: batch ${batch.batchId} of agency ${batch.agency}`,
        { code: ErrorCode.OUT_OF_ORDER },
      );
    }
  }

  async #onDone(agency: number): Promise<void> {
    if (this.#doneSent) {
      throw new ProtocolError(`Agency done twice on one connection: agency ${agency}`, {
        code: ErrorCode.OUT_OF_ORDER,
      });
    }
    this.#doneSent = true;
    // Every batch this connection sent is stored before the agency counts as done.
    await this.#outbox.flush();
    const lottery = this.#ctx.lottery;
    let outcome;
    try {
      // Durable (journaled and fsync'd) before DONE_ACK: a restart remembers it.
      outcome = await lottery.done(agency);
    } catch (error) {
      throw new RequestFailed(`Storage failed: ${describeError(error)}`, {
        code: ErrorCode.STORAGE,
        cause: error,
      });
    }
    log.info({
      action: outcome === "repeated" ? "finalizacion_duplicada" : "agencia_finalizada",
      result: "success",
      agency,
      agencias_listas: lottery.doneCount,
      agencias: lottery.agencies,
    });
    this.#outbox.send(encodeMessage({ type: MessageType.DONE_ACK, agency }));
    if (outcome === "last") this.#ctx.onLastDone();
  }

  /**
   * Answers a winners query once the draw is done. Returns false when the
   * peer closed the connection while waiting (the session then ends quietly,
   * freeing its slot at once rather than at the draw).
   */
  async #onWinnersQuery(agency: number, reader: ByteReader): Promise<boolean> {
    if (!this.#ctx.lottery.isDone(agency)) {
      throw new ProtocolError(`Winners query before agency done: agency ${agency}`, {
        code: ErrorCode.OUT_OF_ORDER,
      });
    }
    await this.#outbox.flush();
    // Waiting for the draw on behalf of the agency: not idle (the watchdog is disarmed).
    const draw = abortable(this.#winnersOnceAnnounced(agency), this.#ctx.signal);
    if (reader.buffered === 0) {
      // Watch the socket meanwhile: a peer that goes away must not hold its slot until the draw.
      const peek = reader.peek().catch(() => null);
      this.#pendingPeek = peek;
      const first = await Promise.race([draw, peek.then((byte) => byte === null)]);
      if (first === true) {
        draw.catch(() => {});
        return false;
      }
    }
    const winners = await draw;
    for (const frame of encodeWinnersReplies([...winners])) this.#outbox.send(frame);
    log.info({
      action: "ganadores_enviados",
      result: "success",
      agency,
      cant_ganadores: winners.length,
    });
    return true;
  }

  /** `agency`'s winners, once the draw's line has had its head start. */
  async #winnersOnceAnnounced(agency: number): Promise<readonly string[]> {
    const winners = await this.#ctx.lottery.winners(agency);
    await this.#ctx.announced;
    return winners;
  }

  async #fail(error: unknown): Promise<void> {
    if (this.#closedByServer || this.#ctx.signal.aborted) return;
    // Closed for its handshake deadline or evicted: its one line is already logged.
    if (this.#handshake.expired !== undefined) return;
    await reportFailure(error, {
      conn: this.#conn,
      ip: this.#ip,
      agency: this.#agency,
      binary: this.#binary,
      timedOut: this.#timedOut,
      outbox: this.#outbox,
      watchdog: this.#watchdog,
      config: this.#ctx.config,
    });
  }

  #release(): void {
    if (this.#closedByServer) return;
    closeQuietly(this.#conn);
  }
}
