/**
 * The server role: the "central de Lotería Nacional". One event loop serves
 * every connection concurrently; a connection's first byte says whether it
 * speaks the binary protocol or plain text lines (netcat-style echo).
 *
 * @module
 */

import {
  ByteReader,
  ConnectionClosedError,
  decodeBetBatchPacked,
  decodeMessage,
  encodeMessage,
  encodeWinnersReplies,
  ErrorCode,
  errorCodeName,
  type ErrorCodeValue,
  MAGIC,
  MessageType,
  messageTypeName,
  type PackedBetBatch,
  ProtocolError,
  readFrame,
  writeAll,
} from "../../protocol/mod.ts";
import { BetStore, Lottery, type PackedBets, unpackBet } from "../../store/mod.ts";
import { describeError } from "../../util/mod.ts";
import type { ServerConfig } from "../config/mod.ts";
import { log } from "../log.ts";
import { abortable, sleep } from "../shutdown.ts";

/** Longest text line the echo dialect accepts, like a frame. */
const MAX_LINE_BYTES = 8192;
/** How many batches of one connection may wait for their ack at once. */
const ACK_WINDOW = 64;
/** Longest wait for the first byte of a refused connection (to tell binary from text). */
const REFUSE_WAIT_MS = 1000;
/**
 * Longest wait, after a last ERROR frame, for the peer to stop sending before
 * the socket is closed: closing with unread input sends a reset, which can
 * destroy the ERROR frame before the peer reads it.
 */
const LINGER_MS = 1000;
/** Refused connections handled at once; past it they are closed without a word. */
const MAX_REFUSING = 64;
/** Pause after a failed accept (e.g. out of file descriptors) before trying again. */
const ACCEPT_RETRY_MS = 100;

/** A running server. */
export interface ServerHandle {
  /** The address actually bound (useful with port 0). */
  readonly addr: Deno.NetAddr;
  /** Resolves when the server has stopped and closed everything. */
  readonly finished: Promise<void>;
  /** Stops accepting, closes every connection and the storage. */
  close(): Promise<void>;
}

/** Options of {@linkcode startServer}. */
export interface StartServerOptions {
  /** Aborting it shuts the server down. */
  signal?: AbortSignal;
}

/**
 * Opens the storage (recovering it from its journal), binds the listener and
 * starts serving. Returns once the server accepts connections.
 */
export async function startServer(
  config: ServerConfig,
  options: StartServerOptions = {},
): Promise<ServerHandle> {
  const store = await BetStore.open(config.storagePath);
  logRecovery(store);
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({
      hostname: config.host,
      port: config.port,
      transport: "tcp",
      tcpBacklog: config.listenBacklog,
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  const server = new Server(config, { store, listener });
  options.signal?.addEventListener("abort", () => server.close(), { once: true });
  if (options.signal?.aborted) server.close();
  return server;
}

/** `action: recovery`: what the store found on disk and repaired. */
function logRecovery(store: BetStore): void {
  const recovery = store.recovery;
  log.info({
    action: "recovery",
    result: "success",
    bets: recovery.bets,
    truncated_bytes: recovery.truncatedBytes,
    agencies_done: recovery.done.size,
    batches: recovery.batches,
    journal_truncated_bytes: recovery.journalTruncatedBytes,
    journal: recovery.adopted ? "adopted" : recovery.journalCreated ? "created" : "replayed",
    storage_path: store.path,
  });
}

/** Everything the server owns; closed in reverse order of opening. */
interface ServerResources {
  store: BetStore;
  listener: Deno.TcpListener;
}

class Server implements ServerHandle {
  readonly addr: Deno.NetAddr;
  readonly finished: Promise<void>;
  #config: ServerConfig;
  #store: BetStore;
  #listener: Deno.TcpListener;
  #lottery: Lottery;
  #sessions = new Set<Session>();
  #refusals = new Set<Promise<void>>();
  #closing = new AbortController();
  /** Resolves `winnersDelay` after the `sorteo` line: no winners go out before. */
  #announced = Promise.withResolvers<void>();
  #accepting: Promise<void>;
  #closed?: Promise<void>;

  constructor(config: ServerConfig, resources: ServerResources) {
    this.#config = config;
    this.#store = resources.store;
    this.#listener = resources.listener;
    this.addr = resources.listener.addr as Deno.NetAddr;
    this.#lottery = new Lottery({ store: this.#store, agencies: config.agencies });
    this.#accepting = this.#acceptLoop();
    const stopped = Promise.withResolvers<void>();
    this.finished = stopped.promise;
    this.#stopped = stopped.resolve;
    // Every agency was already done before a restart: the draw runs now, for late queries.
    if (this.#lottery.allDone) void this.#runDraw();
  }

  #stopped: () => void;

  close(): Promise<void> {
    this.#closed ??= this.#shutdown().then(this.#stopped);
    return this.#closed;
  }

  async #acceptLoop(): Promise<void> {
    log.info({
      action: "server_listening",
      result: "success",
      address: `${this.addr.hostname}:${this.addr.port}`,
      agencies: this.#config.agencies,
    });
    const signal = this.#closing.signal;
    while (!signal.aborted) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (signal.aborted || error instanceof Deno.errors.BadResource) break;
        // Out of file descriptors, a connection reset before accept...: not fatal.
        log.error({ action: "accept", result: "fail", error: describeError(error) });
        await sleep(ACCEPT_RETRY_MS, signal);
        continue;
      }
      if (this.#sessions.size >= this.#config.maxConnections) this.#refuse(conn);
      else this.#serve(conn);
    }
    // The listener failed on its own: stop the rest too.
    if (!signal.aborted) void this.close();
  }

  #serve(conn: Deno.TcpConn): void {
    const session = new Session(conn, {
      lottery: this.#lottery,
      signal: this.#closing.signal,
      config: this.#config,
      onLastDone: () => this.#runDraw(),
      announced: this.#announced.promise,
    });
    this.#sessions.add(session);
    session.run().finally(() => this.#sessions.delete(session));
  }

  /** Turns away a connection over MAX_CONNECTIONS: BUSY to a binary client, then close. */
  #refuse(conn: Deno.TcpConn): void {
    const ip = (conn.remoteAddr as Deno.NetAddr).hostname;
    log.warning({
      action: "connection",
      result: "fail",
      ip,
      reason: "too many connections",
      max_connections: this.#config.maxConnections,
    });
    if (this.#refusals.size >= MAX_REFUSING) {
      closeQuietly(conn);
      return;
    }
    const waitMs = Math.min(this.#config.readTimeoutMs, REFUSE_WAIT_MS);
    const refusal = refuseConnection(conn, { waitMs, signal: this.#closing.signal });
    this.#refusals.add(refusal);
    refusal.finally(() => this.#refusals.delete(refusal));
  }

  async #runDraw(): Promise<void> {
    try {
      const winners = await this.#lottery.draw();
      let total = 0;
      for (const documents of winners.values()) total += documents.length;
      log.info({ action: "sorteo", result: "success", cant_ganadores: total });
      // The draw's line gets a head start on the answers it causes (README, "Running it
      // the course's way"); a shutdown meanwhile ends the wait.
      if (this.#config.winnersDelayMs > 0) {
        await sleep(this.#config.winnersDelayMs, this.#closing.signal);
      }
    } catch (error) {
      log.error({ action: "sorteo", result: "fail", error: describeError(error) });
    } finally {
      this.#announced.resolve();
    }
  }

  async #shutdown(): Promise<void> {
    this.#closing.abort();
    try {
      this.#listener.close();
    } catch {
      // Already closed by the accept loop ending.
    }
    await this.#accepting;
    log.info({ action: "shutdown", result: "success", resource: "listener" });
    const sessions = [...this.#sessions];
    for (const session of sessions) session.close();
    await Promise.allSettled([...sessions.map((session) => session.finished), ...this.#refusals]);
    // Waits for the flush in progress: every batch is either committed whole or cut at restart.
    await this.#store.close();
    log.info({ action: "shutdown", result: "success", resource: "storage" });
  }
}

/** Options of {@linkcode refuseConnection}. */
interface RefuseOptions {
  /** Longest wait for the first byte. */
  waitMs: number;
  /** Aborted on shutdown: close at once. */
  signal: AbortSignal;
}

/**
 * Reads the first byte of a refused connection: a binary client (0xB7) gets
 * an ERROR frame BUSY, a text client nothing; then the connection is closed.
 */
async function refuseConnection(conn: Deno.TcpConn, options: RefuseOptions): Promise<void> {
  const close = () => closeQuietly(conn);
  let timer = setTimeout(close, options.waitMs);
  options.signal.addEventListener("abort", close, { once: true });
  try {
    const first = new Uint8Array(1);
    const count = await conn.read(first);
    if (count === 1 && first[0] === MAGIC) {
      const reason = "Too many connections: try again later";
      await writeAll(
        conn,
        encodeMessage({ type: MessageType.ERROR, code: ErrorCode.BUSY, reason }),
      );
    }
    clearTimeout(timer);
    timer = setTimeout(close, Math.min(options.waitMs, LINGER_MS));
    await drainInput(conn);
  } catch {
    // Closed by the timer, the shutdown or the peer: nothing more to say.
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener("abort", close);
    close();
  }
}

/** What a session shares with the server. */
interface SessionContext {
  lottery: Lottery;
  /** Aborted when the server shuts down. */
  signal: AbortSignal;
  /** Timeouts. */
  config: Pick<ServerConfig, "readTimeoutMs" | "idleTimeoutMs">;
  /** Called once, by the session whose "agency done" completes the set. */
  onLastDone: () => void;
  /** Resolves once winners may be sent: the draw is logged and its head start is over. */
  announced: Promise<void>;
}

/** A request the server cannot serve (its storage failed): answered with ERROR, then closed. */
class RequestFailed extends Error {
  /** The {@linkcode ErrorCode} sent back. */
  readonly code: ErrorCodeValue;

  constructor(message: string, options: { code: ErrorCodeValue; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = "RequestFailed";
    this.code = options.code;
  }
}

/**
 * Closes a connection whose peer keeps the server waiting too long. One timer
 * per connection, re-armed lazily: arming with a later deadline than the
 * timer's only moves the deadline (the timer, when it fires, sleeps again for
 * the rest), so a busy connection costs no timer call per frame.
 */
class Watchdog {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #firesAt = 0;
  #deadline = Number.POSITIVE_INFINITY;
  #reason = "";
  #onExpire: (reason: string) => void;

  constructor(onExpire: (reason: string) => void) {
    this.#onExpire = onExpire;
  }

  /** Expires `ms` from now with `reason`, unless re-armed or disarmed before. */
  arm(ms: number, reason: string): void {
    const now = performance.now();
    this.#deadline = now + ms;
    this.#reason = reason;
    if (this.#timer !== undefined) {
      if (this.#firesAt <= this.#deadline) return;
      clearTimeout(this.#timer);
    }
    this.#schedule(ms, now);
  }

  /** Nothing is awaited from the peer: no deadline. */
  disarm(): void {
    this.#deadline = Number.POSITIVE_INFINITY;
  }

  /** Disarms and drops the timer (at the end of the connection). */
  stop(): void {
    this.#deadline = Number.POSITIVE_INFINITY;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(ms: number, now: number): void {
    this.#firesAt = now + ms;
    this.#timer = setTimeout(this.#fire, ms);
  }

  #fire = (): void => {
    this.#timer = undefined;
    if (this.#deadline === Number.POSITIVE_INFINITY) return;
    const now = performance.now();
    const left = this.#deadline - now;
    if (left > 0) this.#schedule(left, now);
    else this.#onExpire(this.#reason);
  };
}

/**
 * One connection. Reads frames one after another; a batch is validated at
 * once and handed to the store, and its ack is queued behind the previous
 * ones, so a client may pipeline batches and acks come back in order.
 *
 * Batch ids make resends harmless: an id already accepted is acknowledged
 * (once durable) without being stored again, the next id is stored, and a
 * gap is an error.
 */
class Session {
  #conn: Deno.TcpConn;
  #ctx: SessionContext;
  #ip: string;
  #agency?: number;
  #binary = false;
  #doneSent = false;
  #outbox: Promise<void>[] = [];
  /** Arrays of the last packed batch, reused by the next one. */
  #scratch: PackedBets | undefined;
  #finished = Promise.withResolvers<void>();
  #closedByServer = false;
  #timedOut?: string;
  #watchdog: Watchdog;
  /** A read started while waiting for the draw; the next frame begins with its byte. */
  #pendingPeek: Promise<number | null> | undefined;

  constructor(conn: Deno.TcpConn, ctx: SessionContext) {
    this.#conn = conn;
    this.#ctx = ctx;
    this.#ip = (conn.remoteAddr as Deno.NetAddr).hostname;
    this.#watchdog = new Watchdog((reason) => {
      this.#timedOut = reason;
      closeQuietly(this.#conn);
    });
  }

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
        await this.#serveLines(reader);
      }
      this.#watchdog.arm(this.#ctx.config.idleTimeoutMs, "idle timeout");
      await this.#flushOutbox();
    } catch (error) {
      await this.#fail(error);
    } finally {
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

  async #serveFrames(reader: ByteReader): Promise<void> {
    while (await this.#awaitNext(reader)) {
      // A view of the reader's buffer, not a copy: each frame is done with before the next read.
      const frame = await readFrame(reader, { view: true });
      this.#watchdog.disarm();
      if (frame === null) break;
      if (frame.type === MessageType.BET_BATCH) {
        // The hot path: a frame's bytes become CSV rows, no object or string a bet. The
        // arrays are reused from batch to batch: the bets are made into rows before any await.
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
          this.#send(encodeMessage({ type: MessageType.ECHO_REPLY, text: message.text }));
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
    const { agency, batchId } = batch;
    const lottery = this.#ctx.lottery;
    if (this.#doneSent) {
      throw new ProtocolError(`Bets after agency done: batch ${batchId} of agency ${agency}`, {
        code: ErrorCode.OUT_OF_ORDER,
      });
    }
    switch (lottery.batchStatus(agency, batchId)) {
      case "next":
        this.#send(this.#storeBatch(batch));
        break;
      case "duplicate":
        this.#send(this.#acknowledgeDuplicate(agency, batchId));
        break;
      case "after_done":
        throw new ProtocolError(`Bets after agency done: batch ${batchId} of agency ${agency}`, {
          code: ErrorCode.OUT_OF_ORDER,
        });
      case "gap":
        throw new ProtocolError(
          `Batch out of order: ${batchId} of agency ${agency} (expected ${
            lottery.nextBatchId(agency)
          })`,
          { code: ErrorCode.OUT_OF_ORDER },
        );
      case "invalid":
        throw new ProtocolError(`Invalid batch id: ${batchId} (batch ids start at 1)`, {
          code: ErrorCode.OUT_OF_ORDER,
        });
    }
    if (this.#outbox.length >= ACK_WINDOW) {
      // Waiting for the peer to read its acks (or for the disk): the peer's silence counts.
      this.#watchdog.arm(this.#ctx.config.idleTimeoutMs, "idle timeout");
      await this.#outbox.shift();
      this.#watchdog.disarm();
    }
  }

  /** Stores the next batch (or records its rejection); resolves with the BATCH_RESULT to send. */
  #storeBatch(batch: PackedBetBatch): Promise<Uint8Array> {
    const { agency, batchId, bets } = batch;
    const count = bets.count;
    const lottery = this.#ctx.lottery;
    const checked = lottery.checkPacked(bets);
    if (checked.reason !== undefined) {
      const reason = checked.reason;
      log.warning({ action: "apuesta_recibida", result: "fail", cantidad: count, agency, reason });
      return lottery.rejectBatch(agency, batchId).then(
        () => batchResult(batchId, ErrorCode.INVALID_BET, reason),
        (error: unknown) => storageFailure(batchId, count, error),
      );
    }
    // Lines a bet (DEBUG, or INFO for a batch of one) need the bets as objects: made now,
    // while the frame's bytes are at hand.
    const stored = log.enabled(count === 1 ? "INFO" : "DEBUG") ? unpackAll(bets) : undefined;
    return lottery.storeChecked(agency, batchId, checked).then(
      () => {
        if (stored !== undefined) logStored(stored);
        log.info({ action: "apuesta_recibida", result: "success", cantidad: count });
        return batchResult(batchId, ErrorCode.OK, "");
      },
      (error: unknown) => storageFailure(batchId, count, error),
    );
  }

  /**
   * A resent batch: acknowledged once its first copy is durable, never stored twice.
   * (It takes the two numbers, not the batch: the batch's bytes are a view of the read
   * buffer, gone by the time this resumes.)
   */
  async #acknowledgeDuplicate(agency: number, batchId: number): Promise<Uint8Array> {
    const lottery = this.#ctx.lottery;
    if (!(await lottery.whenDurable(agency, batchId))) {
      const reason = `Storage failed: batch ${batchId} of agency ${agency} was not stored`;
      log.error({ action: "lote_duplicado", result: "fail", agency, batch_id: batchId, reason });
      return batchResult(batchId, ErrorCode.STORAGE, reason);
    }
    if (lottery.wasRejected(agency, batchId)) {
      const reason = `Batch ${batchId} of agency ${agency} was rejected before (invalid bets); ` +
        "batch ids are never reused";
      log.warning({ action: "lote_duplicado", result: "fail", agency, batch_id: batchId, reason });
      return batchResult(batchId, ErrorCode.INVALID_BET, reason);
    }
    log.info({ action: "lote_duplicado", result: "success", agency, batch_id: batchId });
    return batchResult(batchId, ErrorCode.OK, "");
  }

  async #onDone(agency: number): Promise<void> {
    if (this.#doneSent) {
      throw new ProtocolError(`Agency done twice on one connection: agency ${agency}`, {
        code: ErrorCode.OUT_OF_ORDER,
      });
    }
    this.#doneSent = true;
    // Every batch this connection sent is stored before the agency counts as done.
    await this.#flushOutbox();
    const lottery = this.#ctx.lottery;
    let outcome;
    try {
      // Durable (journaled and fsync'd) before DONE_ACK: a restart remembers it.
      outcome = await lottery.markDone(agency);
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
    this.#send(encodeMessage({ type: MessageType.DONE_ACK, agency }));
    if (outcome === "last") this.#ctx.onLastDone();
  }

  /**
   * Answers a winners query once the draw is done. Returns false when the
   * peer closed the connection while waiting (the session then ends quietly,
   * freeing its slot at once rather than at the draw).
   */
  async #onWinnersQuery(agency: number, reader: ByteReader): Promise<boolean> {
    const lottery = this.#ctx.lottery;
    if (!lottery.isDone(agency)) {
      throw new ProtocolError(`Winners query before agency done: agency ${agency}`, {
        code: ErrorCode.OUT_OF_ORDER,
      });
    }
    await this.#flushOutbox();
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
    for (const frame of encodeWinnersReplies([...winners])) this.#send(frame);
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

  /** Queues bytes (or a promise of them) to be written after every earlier reply. */
  #send(reply: Uint8Array | Promise<Uint8Array>): void {
    const previous = this.#outbox.at(-1);
    const next = (async () => {
      await previous;
      await writeAll(this.#conn, await reply);
    })();
    next.catch(() => {}); // Observed by whoever awaits the outbox.
    this.#outbox.push(next);
  }

  async #flushOutbox(): Promise<void> {
    const last = this.#outbox.at(-1);
    this.#outbox = [];
    await last;
  }

  async #fail(error: unknown): Promise<void> {
    if (this.#closedByServer || this.#ctx.signal.aborted) return;
    if (this.#timedOut !== undefined) {
      log.error({
        action: "connection",
        result: "fail",
        ip: this.#ip,
        agency: this.#agency,
        reason: this.#timedOut,
      });
      return;
    }
    if (error instanceof ProtocolError || error instanceof RequestFailed) {
      log.error({
        action: "connection",
        result: "fail",
        ip: this.#ip,
        agency: this.#agency,
        code: errorCodeName(error.code),
        reason: error.message,
      });
      if (!this.#binary) return; // A text client gets no binary frame: just the close.
      try {
        this.#watchdog.arm(this.#ctx.config.idleTimeoutMs, "idle timeout");
        await this.#flushOutbox();
        await writeAll(
          this.#conn,
          encodeMessage({ type: MessageType.ERROR, code: error.code, reason: error.message }),
        );
        // Let the frame reach the peer: no reset for input it sent after the bad frame.
        this.#watchdog.arm(Math.min(this.#ctx.config.readTimeoutMs, LINGER_MS), "linger");
        await drainInput(this.#conn);
      } catch {
        // The peer may be gone; closing is all that is left.
      }
      return;
    }
    const reason = error instanceof ConnectionClosedError
      ? "connection closed in the middle of a frame"
      : describeError(error);
    log.error({ action: "connection", result: "fail", ip: this.#ip, agency: this.#agency, reason });
  }

  #release(): void {
    if (this.#closedByServer) return;
    closeQuietly(this.#conn);
  }
}

function batchResult(batchId: number, code: number, reason: string): Uint8Array {
  return encodeMessage({ type: MessageType.BATCH_RESULT, batchId, code, reason });
}

/** Logs a failed store and builds its BATCH_RESULT STORAGE. */
function storageFailure(batchId: number, cantidad: number, error: unknown): Uint8Array {
  const reason = `Storage failed: ${describeError(error)}`;
  log.error({ action: "apuesta_recibida", result: "fail", cantidad, reason });
  return batchResult(batchId, ErrorCode.STORAGE, reason);
}

function unpackAll(bets: PackedBets): { document: string; number: number }[] {
  return Array.from({ length: bets.count }, (_, i) => unpackBet(bets, i));
}

/** One line per stored bet: INFO for a batch of one (exercise 5), DEBUG otherwise. */
function logStored(bets: readonly { document: string; number: number }[]): void {
  const level = bets.length === 1 ? "INFO" : "DEBUG";
  if (!log.enabled(level)) return;
  const write = level === "INFO" ? log.info : log.debug;
  for (const bet of bets) {
    write({
      action: "apuesta_almacenada",
      result: "success",
      dni: bet.document,
      numero: bet.number,
    });
  }
}

/**
 * Half-closes `conn` (our FIN after the last frame) and discards what the
 * peer still sends until it closes too; the caller bounds the wait (a timer
 * that closes the socket ends the read). So the close is graceful: no reset
 * that could destroy our last frame in the peer's receive buffer.
 */
async function drainInput(conn: Deno.TcpConn): Promise<void> {
  try {
    await conn.closeWrite();
  } catch {
    return; // Already closed.
  }
  const scratch = new Uint8Array(4096);
  try {
    while (await conn.read(scratch) !== null) {
      // Discarded.
    }
  } catch {
    // Reset by the peer or closed by the caller's timer.
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
