/**
 * {@linkcode Session}: one connection. Its first byte says whether it speaks
 * the binary protocol or plain text lines (netcat-style echo); frames are then
 * read one after another and dispatched, and the replies go out in order.
 *
 * @module
 */

import {
  type AuthProofMessage,
  ByteReader,
  decodeBetBatchPacked,
  decodeMessage,
  encodeMessage,
  encodeWinnersReplies,
  ErrorCode,
  type Frame,
  freshNonce,
  type HandshakeNonces,
  MAGIC,
  MessageType,
  messageTypeName,
  type PackedBetBatch,
  ProtocolError,
  readFrame,
  serverProof,
  UNAUTHENTICATED_VERSION,
  verifyClientProof,
  VERSION,
} from "../../protocol/mod.ts";
import type { Lottery, PackedBets } from "../../store/mod.ts";
import { describeError, writeAll } from "../../util/mod.ts";
import type { ServerConfig } from "../config/mod.ts";
import { log } from "../log.ts";
import { abortable } from "../shutdown.ts";
import { closeQuietly, remoteIp } from "./_socket.ts";
import { AgencyKeyring, AUTH_FAILED_REASON, AuthFailed } from "./auth.ts";
import { submitBatch } from "./batches.ts";
import { RequestFailed } from "./errors.ts";
import { reportFailure } from "./failure.ts";
import { Outbox } from "./outbox.ts";
import { Watchdog } from "./watchdog.ts";

/**
 * The refusal of a lottery message before the handshake: a version-1 one is told that a
 * key is needed; a version-2 one that AUTH_HELLO comes first.
 */
function notAuthenticated(frame: Frame): AuthFailed {
  const { type, payload } = frame;
  const names = type === MessageType.BET_BATCH || type === MessageType.AGENCY_DONE ||
    type === MessageType.WINNERS_QUERY;
  const agency = names && payload.length >= 2 ? (payload[0] << 8) | payload[1] : undefined;
  const what = messageTypeName(type);
  if (frame.version === UNAUTHENTICATED_VERSION) {
    return new AuthFailed(
      `Agency key required: this server authenticates agencies (protocol version ` +
        `${VERSION}), ${what} in version ${UNAUTHENTICATED_VERSION} refused`,
      { agency },
    );
  }
  return new AuthFailed(`Not authenticated: ${what} before the handshake (AUTH_HELLO)`, {
    agency,
  });
}

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
  #finished = Promise.withResolvers<void>();
  #closedByServer = false;
  #timedOut?: string;
  #watchdog: Watchdog;
  /** Whether the handshake succeeded (always false without keys). */
  #authenticated = false;
  /** Closes a connection with keys that has not authenticated in time (or was evicted). */
  #authTimer: ReturnType<typeof setTimeout> | undefined;
  /** Why the handshake deadline or an eviction closed the connection. */
  #authExpired?: string;
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
    if (ctx.keyring !== undefined) {
      const { authTimeout, authTimeoutMs } = ctx.config;
      this.#authTimer = setTimeout(
        () => this.#expire(`no handshake within AUTH_TIMEOUT (${authTimeout})`),
        authTimeoutMs,
      );
    }
  }

  /** Whether the connection proved its agency (its handshake is over). */
  get authenticated(): boolean {
    return this.#authenticated;
  }

  /**
   * Closes a connection that has not authenticated, for `reason` (the handshake deadline,
   * or too many connections waiting): one `action: auth | result: fail` line.
   */
  evict(reason: string): void {
    this.#expire(reason);
  }

  #expire(reason: string): void {
    if (this.#authenticated || this.#authExpired !== undefined) return;
    this.#authExpired = reason;
    this.#stopAuthTimer();
    if (!this.#closedByServer && !this.#ctx.signal.aborted) {
      log.warning({ action: "auth", result: "fail", ip: this.#ip, agency: this.#agency, reason });
    }
    closeQuietly(this.#conn);
  }

  #stopAuthTimer(): void {
    clearTimeout(this.#authTimer);
    this.#authTimer = undefined;
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
        this.#stopAuthTimer();
        await this.#serveLines(reader);
      }
      this.#watchdog.arm(this.#ctx.config.idleTimeoutMs, "idle timeout");
      await this.#outbox.flush();
    } catch (error) {
      await this.#fail(error);
    } finally {
      this.#stopAuthTimer();
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
      // Replies go out in the version the client speaks.
      this.#outbox.version ??= frame.version;
      if (frame.type === MessageType.AUTH_HELLO) {
        await this.#authenticate(frame, reader);
        continue;
      }
      if (frame.type === MessageType.ECHO) {
        // ECHO needs no handshake in either version: it never reaches the lottery.
        this.#stopAuthTimer();
      } else if (this.#ctx.keyring !== undefined && !this.#authenticated) {
        throw notAuthenticated(frame);
      }
      if (frame.type === MessageType.BET_BATCH) {
        // The hot path: a frame's bytes become CSV rows, no object or string a bet. The
        // arrays are reused from batch to batch: the lottery takes the bets before any await.
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

  /**
   * The handshake, from its AUTH_HELLO: AUTH_CHALLENGE with a fresh nonce, the agency's
   * AUTH_PROOF checked in constant time, then AUTH_OK with the server's own proof. The
   * connection then speaks for that agency only.
   *
   * @throws {AuthFailed} without keys, for another version, an agency without a key or a
   *   proof that does not hold (the peer learns nothing about which)
   */
  async #authenticate(frame: Frame, reader: ByteReader): Promise<void> {
    const hello = decodeMessage(frame);
    if (hello.type !== MessageType.AUTH_HELLO) throw new Error("Unreachable: not AUTH_HELLO");
    const agency = hello.agency;
    const keyring = this.#ctx.keyring;
    if (keyring === undefined) {
      throw new AuthFailed(
        "This server does not authenticate agencies (it has no keys): connect without a key",
        { agency },
      );
    }
    if (this.#authenticated) {
      throw new ProtocolError(`Handshake twice on one connection: agency ${agency}`, {
        code: ErrorCode.OUT_OF_ORDER,
      });
    }
    if (frame.version !== VERSION) {
      throw new AuthFailed(`AUTH_HELLO is protocol version ${VERSION}`, { agency });
    }
    const lottery = this.#ctx.lottery;
    if (!lottery.isAgency(agency)) {
      throw new AuthFailed(`Invalid agency: ${agency} (expected 1..${lottery.agencies})`, {
        agency,
      });
    }
    // Computed before any answer: an agency without a key costs what a wrong key does.
    const key = keyring.get(agency);
    const nonces: HandshakeNonces = {
      agency,
      clientNonce: hello.nonce,
      serverNonce: freshNonce(),
    };
    this.#outbox.send(
      encodeMessage({ type: MessageType.AUTH_CHALLENGE, nonce: nonces.serverNonce }),
    );
    const proof = await this.#readProof(reader, agency);
    if (key === undefined || !await verifyClientProof(key, proof.proof, nonces)) {
      throw new AuthFailed(AUTH_FAILED_REASON, {
        agency,
        logReason: key === undefined ? `no key for agency ${agency}` : "proof does not match",
      });
    }
    if (this.#ctx.onAuthenticated?.(this) === false) {
      throw new RequestFailed("Too many connections: try again later", {
        code: ErrorCode.BUSY,
      });
    }
    this.#authenticated = true;
    this.#stopAuthTimer();
    this.#bindAgency(agency);
    this.#outbox.send(
      encodeMessage({ type: MessageType.AUTH_OK, proof: await serverProof(key, nonces) }),
    );
    log.info({ action: "auth", result: "success", ip: this.#ip, agency });
  }

  /** The frame after AUTH_CHALLENGE: it must be a version-2 AUTH_PROOF. */
  async #readProof(reader: ByteReader, agency: number): Promise<AuthProofMessage> {
    await this.#outbox.flush();
    const frame = await this.#awaitNext(reader) ? await readFrame(reader) : null;
    this.#watchdog.disarm();
    if (frame === null) {
      throw new AuthFailed("Connection closed during the handshake", { agency });
    }
    if (frame.type !== MessageType.AUTH_PROOF || frame.version !== VERSION) {
      throw new AuthFailed(
        `Expected AUTH_PROOF (version ${VERSION}), got ${messageTypeName(frame.type)} ` +
          `(version ${frame.version})`,
        { agency },
      );
    }
    return decodeMessage(frame) as AuthProofMessage;
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
    if (this.#doneSent) {
      throw new ProtocolError(
        `Bets after agency done: batch ${batch.batchId} of agency ${batch.agency}`,
        { code: ErrorCode.OUT_OF_ORDER },
      );
    }
    this.#outbox.send(submitBatch(this.#ctx.lottery, batch));
    if (this.#outbox.size >= ACK_WINDOW) {
      // Waiting for the peer to read its acks (or for the disk): the peer's silence counts.
      this.#watchdog.arm(this.#ctx.config.idleTimeoutMs, "idle timeout");
      await this.#outbox.shift();
      this.#watchdog.disarm();
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
    if (this.#authExpired !== undefined) return;
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
