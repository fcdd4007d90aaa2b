/**
 * The client role: an agency. In `echo` mode it sends numbered messages and
 * checks each answer; in `lottery` mode it streams its bets file to the server
 * in batches, says it is done, and asks for its winners.
 *
 * @module
 */

import {
  BetBatchEncoder,
  ByteReader,
  ConnectionClosedError,
  decodeMessage,
  encodeMessage,
  ErrorCode,
  errorCodeName,
  type Message,
  MessageType,
  messageTypeName,
  ProtocolError,
  readFrame,
  writeAll,
} from "../protocol/mod.ts";
import {
  type Bet,
  CsvFormatError,
  packBets,
  type PackedRecords,
  readAgencyBetsPacked,
  validateBet,
} from "../store/mod.ts";
import {
  EXIT_FAIL,
  EXIT_OK,
  EXIT_USAGE,
  parseCommand,
  printErr,
  printOut,
  runCommand,
  splitHostPort,
} from "../util/mod.ts";
import {
  type ClientConfig,
  ConfigError,
  describeClientConfig,
  loadClientConfig,
} from "./config/mod.ts";
import { log, setupLogging } from "./log.ts";
import { abortOnSignals, ShutdownRequested, sleep } from "./shutdown.ts";

/** Batches that may be on the wire without their ack (pipelining window). */
export const BATCH_WINDOW = 64;
/** Unsent frames are written together, up to this many bytes a write. */
const WRITE_BYTES = 64 * 1024;
/** How often a long run reports progress. */
const PROGRESS_EVERY_MS = 1000;
/** First pause between connection attempts; it doubles up to {@linkcode BACKOFF_MAX_MS}. */
const BACKOFF_FIRST_MS = 50;
/** Longest pause between connection attempts. */
const BACKOFF_MAX_MS = 2000;
/** A failed attempt is logged at most this often. */
const CONNECT_LOG_EVERY_MS = 1000;
/** One attempt is given at least this long, even when the deadline is nearer (or 0). */
const ATTEMPT_MIN_MS = 1000;
/** Server error codes after which trying again on a new connection makes sense. */
const RETRYABLE_CODES: ReadonlySet<number> = new Set([
  ErrorCode.BUSY,
  ErrorCode.SHUTTING_DOWN,
  ErrorCode.TIMEOUT,
]);

const USAGE = `Usage: tp0 client --id <n> [options]

Runs one agency. In lottery mode (the default) it sends its bets in batches,
says it is done and asks for its winners; in echo mode it sends
"[CLIENT {id}] Message N°{n}" loop.amount times, one every loop.period.

Options:
  --id <n>                 agency number                         (CLI_ID, required)
  --config <path>          YAML config (default: config/client.yaml)
  --server-address <h:p>   server address                        (CLI_SERVER_ADDRESS, default server:12345)
  --connect-deadline <d>   keep retrying to (re)connect this long (CLI_CONNECT_DEADLINE, default 30s)
  --mode <mode>            lottery or echo                       (CLI_MODE, default lottery)
  --data <path>            bets file                             (CLI_DATA_PATH, default .data/agency-{id}.csv)
  --batch-max-amount <n>   bets per batch, capped at 8 KiB frames (CLI_BATCH_MAXAMOUNT, default 100)
  --loop-amount <n>        echo messages to send                 (CLI_LOOP_AMOUNT, default 5)
  --loop-period <d>        pause between echo messages, e.g. 5s  (CLI_LOOP_PERIOD, default 5s)
  --log-level <level>      DEBUG, INFO, WARNING, ERROR, CRITICAL (CLI_LOG_LEVEL, default INFO)
  -h, --help               show this help

A single bet comes from the environment instead of the file when NOMBRE,
APELLIDO, DOCUMENTO, NACIMIENTO and NUMERO are all set.

In lottery mode a dropped connection is reconnected and every batch not yet
acknowledged is sent again with the same id; the server stores each id once.
A bad bets file stops the client at the bad line, before AGENCY_DONE: fix it
and run the client again (same batch.maxAmount), the batches already stored
are acknowledged as duplicates. Echo mode fails on a dropped connection.
Exit codes: 0 all good, 1 the run failed or a batch was rejected, 2 bad usage or config.`;

/** Environment variables that describe one bet (exercise 5). */
const SINGLE_BET_ENV = ["NOMBRE", "APELLIDO", "DOCUMENTO", "NACIMIENTO", "NUMERO"] as const;

/** `tp0 client --id <n> [options]`. */
export function runClient(args: string[]): Promise<number> {
  return runCommand(USAGE, async () => {
    const { values, help } = parseCommand(args, {
      usage: USAGE,
      options: {
        id: { type: "string" },
        config: { type: "string" },
        "server-address": { type: "string" },
        "connect-deadline": { type: "string" },
        mode: { type: "string" },
        data: { type: "string" },
        "batch-max-amount": { type: "string" },
        "loop-amount": { type: "string" },
        "loop-period": { type: "string" },
        "log-level": { type: "string" },
      },
    });
    if (help) {
      printOut(USAGE);
      return EXIT_OK;
    }
    let config: ClientConfig;
    try {
      config = await loadClientConfig({
        configPath: values.config,
        flags: {
          id: values.id,
          serverAddress: values["server-address"],
          connectDeadline: values["connect-deadline"],
          mode: values.mode,
          dataPath: values.data,
          batchMaxAmount: values["batch-max-amount"],
          loopAmount: values["loop-amount"],
          loopPeriod: values["loop-period"],
          logLevel: values["log-level"],
        },
      });
      // The bet of exercise 5 is configuration too: a bad one stops the client here.
      if (config.mode === "lottery") singleBetFromEnv(Deno.env.toObject(), config.id);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      printErr(`tp0 client: ${error.message}`);
      return EXIT_USAGE;
    }
    setupLogging(config.logLevel);
    log.info({ action: "config", result: "success", ...describeClientConfig(config) });

    const controller = new AbortController();
    using _signals = abortOnSignals(controller);
    const code = await runAgency(config, { signal: controller.signal });
    log.info({ action: "finished", result: code === EXIT_OK ? "success" : "fail", code });
    return code;
  });
}

/** Options of {@linkcode runAgency}. */
export interface RunAgencyOptions {
  /** Aborting it stops the client at once (SIGTERM). */
  signal?: AbortSignal;
  /** Environment to read a single bet from. @default Deno.env.toObject() */
  env?: Record<string, string | undefined>;
}

/** Runs the client in its configured mode; returns the exit code. */
export async function runAgency(
  config: ClientConfig,
  options: RunAgencyOptions = {},
): Promise<number> {
  const signal = options.signal ?? new AbortController().signal;
  const link = new Link(config, signal);
  try {
    if (config.mode === "echo") {
      const peer = await link.connect();
      return await echoLoop(peer, { config, signal });
    }
    const env = options.env ?? Deno.env.toObject();
    return await new LotteryRun(link, { config, signal, env }).run();
  } catch (error) {
    if (signal.aborted) return stopped(signal);
    if (error instanceof ConnectError) {
      log.error({
        action: "connect",
        result: "fail",
        server_address: config.serverAddress,
        reason: error.reason,
        attempts: error.attempts,
      });
      return EXIT_FAIL;
    }
    log.error({ action: "client", result: "fail", client_id: config.id, reason: describe(error) });
    return EXIT_FAIL;
  } finally {
    link.dispose();
  }
}

/** Logs the closures a stop causes and returns the graceful exit code. */
function stopped(signal: AbortSignal): number {
  const reason = signal.reason instanceof ShutdownRequested ? signal.reason.signal : "abort";
  log.info({ action: "shutdown", result: "success", resource: "connection", signal: reason });
  return EXIT_OK;
}

/** The server answered with an ERROR frame (and closes the connection). */
export class ServerError extends Error {
  /** The {@linkcode ErrorCode} the server sent. */
  readonly code: number;

  /** Creates the error from the frame's code and reason. */
  constructor(code: number, reason: string) {
    super(`Server error ${errorCodeName(code)}: ${reason}`);
    this.name = "ServerError";
    this.code = code;
  }
}

/** The client could not reach the server before its deadline. */
export class ConnectError extends Error {
  /** Why the last attempt failed, short and lower-case: `connection refused`. */
  readonly reason: string;
  /** Attempts made. */
  readonly attempts: number;

  /** Creates the error from the last attempt's failure. */
  constructor(reason: string, options: { attempts: number; cause?: unknown }) {
    super(`Cannot connect: ${reason} (${options.attempts} attempts)`, { cause: options.cause });
    this.name = "ConnectError";
    this.reason = reason;
    this.attempts = options.attempts;
  }
}

/** Options of {@linkcode connectWithRetry}. */
export interface ConnectWithRetryOptions {
  /** `performance.now()` after which no new attempt starts. */
  deadline: number;
  /** Aborting it stops at once (the error is the signal's reason). */
  signal?: AbortSignal;
}

/**
 * Connects to `host:port`, retrying with exponential backoff and jitter
 * (about 50 ms doubling up to 2 s) until `options.deadline`; logs
 * `action: connect | result: in_progress` at most once a second meanwhile.
 *
 * @throws {ConnectError} with the last reason and the attempts made, once the
 *   deadline has passed.
 */
export async function connectWithRetry(
  address: string,
  options: ConnectWithRetryOptions,
): Promise<{ conn: Deno.TcpConn; attempts: number }> {
  const { hostname, port } = splitHostPort(address);
  const signal = options.signal ?? new AbortController().signal;
  let backoff = BACKOFF_FIRST_MS;
  let lastLog = Number.NEGATIVE_INFINITY;
  for (let attempt = 1;; attempt++) {
    signal.throwIfAborted();
    const left = options.deadline - performance.now();
    let failure: unknown;
    try {
      const conn = await connectOnce({ hostname, port }, {
        timeoutMs: Math.max(left, ATTEMPT_MIN_MS),
        signal,
      });
      return { conn, attempts: attempt };
    } catch (error) {
      signal.throwIfAborted();
      if (!isRetryableConnectError(error)) throw error;
      failure = error;
    }
    const reason = describeConnectError(failure);
    const now = performance.now();
    if (now >= options.deadline) {
      throw new ConnectError(reason, { attempts: attempt, cause: failure });
    }
    if (now - lastLog >= CONNECT_LOG_EVERY_MS) {
      lastLog = now;
      log.info({ action: "connect", result: "in_progress", attempt, reason });
    }
    // "Equal jitter": half the backoff, plus up to the other half at random.
    const pause = Math.min(backoff / 2 + Math.random() * backoff / 2, options.deadline - now);
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    if (!(await sleep(pause, signal))) signal.throwIfAborted();
  }
}

/** One connection attempt, given up after `timeoutMs` (TimedOut) or on abort. */
async function connectOnce(
  where: { hostname: string; port: number },
  options: { timeoutMs: number; signal: AbortSignal },
): Promise<Deno.TcpConn> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Deno.errors.TimedOut("connection attempt timed out")),
    options.timeoutMs,
  );
  const onAbort = () => controller.abort(options.signal.reason);
  options.signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await Deno.connect({ ...where, transport: "tcp", signal: controller.signal });
  } catch (error) {
    throw controller.signal.aborted ? controller.signal.reason : error;
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener("abort", onAbort);
  }
}

/** Whether a failed connect may succeed later (server not up yet, name not resolvable yet). */
function isRetryableConnectError(error: unknown): boolean {
  return !(error instanceof Deno.errors.PermissionDenied ||
    error instanceof Deno.errors.NotCapable || error instanceof RangeError);
}

function describeConnectError(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (error instanceof Deno.errors.TimedOut) return "timed out";
  if (error instanceof Deno.errors.ConnectionReset) return "connection reset";
  return firstLine(error instanceof Error ? error.message : String(error));
}

/**
 * Whether a failure of a running conversation is worth a reconnect: the
 * connection dropped, or the server turned us away for now (BUSY,
 * SHUTTING_DOWN, TIMEOUT).
 */
function isRetryable(error: unknown): boolean {
  if (error instanceof ConnectionClosedError) return true;
  if (error instanceof ServerError) return RETRYABLE_CODES.has(error.code);
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.TimedOut ||
    error instanceof Deno.errors.Interrupted;
}

/**
 * The client's connection to the server, (re)made on demand; closed when the
 * run is aborted (SIGTERM) or ends.
 */
class Link {
  #config: ClientConfig;
  #signal: AbortSignal;
  #conn: Deno.TcpConn | undefined;
  #onAbort = () => this.#close();

  constructor(config: ClientConfig, signal: AbortSignal) {
    this.#config = config;
    this.#signal = signal;
    signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Connects (retrying until connect.deadline from now) and logs it. */
  async connect(): Promise<Peer> {
    return await this.reconnect(performance.now());
  }

  /** Drops the current connection and connects again, retrying until `since` + deadline. */
  async reconnect(since: number): Promise<Peer> {
    this.#close();
    const { conn, attempts } = await connectWithRetry(this.#config.serverAddress, {
      deadline: since + this.#config.connectDeadlineMs,
      signal: this.#signal,
    });
    this.#conn = conn;
    log.info({
      action: "connect",
      result: "success",
      server_address: this.#config.serverAddress,
      attempts,
    });
    return new Peer(conn);
  }

  /** Closes the connection; logs it unless the run was aborted (which logs its own line). */
  dispose(): void {
    this.#signal.removeEventListener("abort", this.#onAbort);
    if (this.#conn === undefined) return;
    this.#close();
    if (!this.#signal.aborted) {
      log.info({ action: "shutdown", result: "success", resource: "connection" });
    }
  }

  #close(): void {
    const conn = this.#conn;
    this.#conn = undefined;
    try {
      conn?.close();
    } catch {
      // Already closed.
    }
  }
}

/** What the client loops need. */
interface LoopContext {
  config: ClientConfig;
  signal: AbortSignal;
}

async function echoLoop(peer: Peer, { config, signal }: LoopContext): Promise<number> {
  for (let n = 1; n <= config.loopAmount; n++) {
    const text = `[CLIENT ${config.id}] Message N°${n}`;
    await peer.send({ type: MessageType.ECHO, text });
    const reply = await peer.expect(MessageType.ECHO_REPLY);
    if (reply.text !== text) {
      log.error({
        action: "receive_message",
        result: "fail",
        client_id: config.id,
        msg: reply.text,
      });
      return EXIT_FAIL;
    }
    log.info({
      action: "receive_message",
      result: "success",
      client_id: config.id,
      msg: reply.text,
    });
    if (n < config.loopAmount && !(await sleep(config.loopPeriodMs, signal))) {
      return stopped(signal);
    }
  }
  log.info({ action: "loop_finished", result: "success", client_id: config.id });
  return EXIT_OK;
}

/** One batch sent (or to be sent again) and waiting for its ack. */
interface InFlight {
  batchId: number;
  /** Bets in it. */
  count: number;
  /** The whole BET_BATCH frame, kept to be resent as is after a reconnect. */
  frame: Uint8Array;
  /** Whether it was written on the current connection. */
  sent: boolean;
}

interface LotteryContext extends LoopContext {
  env: Record<string, string | undefined>;
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
class LotteryRun {
  #link: Link;
  #config: ClientConfig;
  #signal: AbortSignal;
  #single: Bet | undefined;
  /** The bets, read a chunk of the file at a time, packed (no object or string a bet). */
  #source: AsyncIterator<PackedRecords>;
  /** The chunk being put in batches (valid until the next `#source.next()`), or none yet. */
  #chunk: PackedRecords | undefined;
  /** Next bet of `#chunk` to put in a batch. */
  #index = 0;
  #sourceDone = false;
  #peer: Peer | undefined;
  #phase: Phase = "bets";
  #window: InFlight[] = [];
  /** The batch being filled, as its frame. */
  #encoder: BetBatchEncoder;
  #totals = { sent: 0, rejected: 0, batches: 0, reconnects: 0 };
  #winners: string[] = [];
  /** The bets file's problem, once met: the run stops after the batches already sent. */
  #fileError: CsvFormatError | undefined;
  /** When the connection dropped with no reply since: reconnect deadlines count from it. */
  #stalledSince: number | undefined;
  /** Reconnects since the last reply (a server that accepts and then refuses is backed off). */
  #retries = 0;
  #started = performance.now();
  #progress = new Progress(this.#started);

  constructor(link: Link, { config, signal, env }: LotteryContext) {
    this.#link = link;
    this.#config = config;
    this.#signal = signal;
    this.#single = singleBetFromEnv(env, config.id);
    this.#source = this.#single
      ? oneBet(this.#single)
      : readAgencyBetsPacked(config.dataPath, { agency: config.id });
    this.#encoder = new BetBatchEncoder({ agency: config.id, maxBets: config.batchMaxAmount });
  }

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
        this.#peer = await this.#reconnect(error);
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
        apuestas_enviadas: this.#totals.sent,
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
          cantidad: this.#totals.sent,
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
   * bad line of the file it stops: the bets after the last whole batch are
   * not sent, the batches already sent are acknowledged, and the run ends
   * there without AGENCY_DONE (a fixed file sent again resumes: the batches
   * before come out the same and are acknowledged as duplicates).
   */
  async #sendBets(peer: Peer): Promise<void> {
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
      let added: boolean;
      try {
        added = this.#encoder.add(chunk, this.#index);
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
        where.line = chunk.lines[this.#index];
        this.#fileError = new CsvFormatError(error.message, { ...where, cause: error });
        break;
      }
      if (added) {
        this.#index++;
        continue;
      }
      // The frame is full: this bet starts the next batch, after the pump (a drop there
      // reconnects and comes back here, to the same bet).
      this.#seal();
      await this.#pump(peer, BATCH_WINDOW);
    }
    if (this.#fileError !== undefined) this.#encoder.clear(); // only whole batches before it
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
    const batchId = ++this.#totals.batches;
    const count = this.#encoder.count;
    const frame = this.#encoder.take(batchId);
    this.#window.push({ batchId, count, frame, sent: false });
  }

  /** Sends every unsent batch of the window, then reads acks while `limit` or more are unacknowledged. */
  async #pump(peer: Peer, limit: number): Promise<void> {
    // Unsent frames go out together: one write for up to 64 KiB of them.
    let unsent: InFlight[] = [];
    let bytes = 0;
    for (const inFlight of this.#window) {
      if (inFlight.sent) continue;
      unsent.push(inFlight);
      bytes += inFlight.frame.length;
      if (bytes < WRITE_BYTES) continue;
      await peer.writeFrames(unsent);
      unsent = [];
      bytes = 0;
    }
    if (unsent.length > 0) await peer.writeFrames(unsent);
    while (this.#window.length >= limit) await this.#awaitAck(peer);
  }

  async #awaitAck(peer: Peer): Promise<void> {
    const inFlight = this.#window[0];
    const result = await peer.expect(MessageType.BATCH_RESULT);
    this.#madeProgress();
    if (result.batchId !== inFlight.batchId) {
      throw new ProtocolError(
        `Ack out of order: batch ${result.batchId} (expected ${inFlight.batchId})`,
        { code: ErrorCode.MALFORMED },
      );
    }
    this.#window.shift();
    const totals = this.#totals;
    if (result.code === ErrorCode.OK) {
      totals.sent += inFlight.count;
      if (this.#single) {
        log.info({
          action: "apuesta_enviada",
          result: "success",
          dni: this.#single.document,
          numero: this.#single.number,
        });
      }
    } else {
      totals.rejected += inFlight.count;
      log.error({
        action: "apuesta_enviada",
        result: "fail",
        batch_id: inFlight.batchId,
        cantidad: inFlight.count,
        code: errorCodeName(result.code),
        reason: result.reason,
      });
    }
    if (this.#progress.due()) this.#progress.report(totals.sent);
  }

  #madeProgress(): void {
    this.#stalledSince = undefined;
    this.#retries = 0;
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
      const backoff = Math.min(BACKOFF_FIRST_MS * 2 ** (this.#retries - 1), BACKOFF_MAX_MS);
      const pause = Math.min(backoff / 2 + Math.random() * backoff / 2, deadline - now);
      if (!(await sleep(pause, this.#signal))) this.#signal.throwIfAborted();
    }
    this.#retries++;
    this.#totals.reconnects++;
    log.warning({
      action: "reconnect",
      result: "in_progress",
      client_id: this.#config.id,
      reason: describe(cause),
      phase: this.#phase,
      pending_batches: this.#window.length,
    });
    for (const inFlight of this.#window) inFlight.sent = false;
    const peer = await this.#link.reconnect(this.#stalledSince);
    log.info({
      action: "reconnect",
      result: "success",
      client_id: this.#config.id,
      phase: this.#phase,
      resent_batches: this.#window.length,
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
    const ok = this.#totals.rejected === 0;
    this.#logTotals(ok ? "success" : "fail");
    return ok ? EXIT_OK : EXIT_FAIL;
  }

  /** Stopped by a signal: the totals so far (`in_progress`), then the closure. */
  #stopped(): number {
    this.#logTotals("in_progress");
    return stopped(this.#signal);
  }

  /** The `resumen` line: bets acknowledged and rejected, batches, winners, time. */
  #logTotals(result: "success" | "fail" | "in_progress"): void {
    const totals = this.#totals;
    const elapsed = (performance.now() - this.#started) / 1000;
    log.info({
      action: "resumen",
      result,
      client_id: this.#config.id,
      apuestas_enviadas: totals.sent,
      apuestas_rechazadas: totals.rejected,
      lotes: totals.batches,
      ganadores: this.#winners.length,
      segundos: elapsed.toFixed(3),
      reconexiones: totals.reconnects,
    });
  }
}

/** Reports progress about once a second on long runs. */
class Progress {
  #started: number;
  #next: number;

  constructor(started: number) {
    this.#started = started;
    this.#next = started + PROGRESS_EVERY_MS;
  }

  due(): boolean {
    return performance.now() >= this.#next;
  }

  report(sent: number): void {
    const now = performance.now();
    this.#next = now + PROGRESS_EVERY_MS;
    const seconds = (now - this.#started) / 1000;
    log.info({
      action: "progreso",
      result: "in_progress",
      apuestas_enviadas: sent,
      apuestas_por_segundo: Math.round(sent / seconds),
    });
  }
}

/** The bet of exercise 5, when NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO and NUMERO are set. */
export function singleBetFromEnv(
  env: Record<string, string | undefined>,
  agency: number,
): Bet | undefined {
  const present = SINGLE_BET_ENV.filter((name) => env[name] !== undefined);
  if (present.length === 0) return undefined;
  if (present.length < SINGLE_BET_ENV.length) {
    const missing = SINGLE_BET_ENV.filter((name) => env[name] === undefined);
    throw new ConfigError(`Incomplete bet in the environment: missing ${missing.join(", ")}`);
  }
  const number = Number(env.NUMERO);
  if (!/^\d+$/.test(env.NUMERO!) || !Number.isSafeInteger(number)) {
    throw new ConfigError(`Invalid NUMERO: "${env.NUMERO}" (expected an integer 0..99999)`);
  }
  const bet = {
    agency,
    firstName: env.NOMBRE!,
    lastName: env.APELLIDO!,
    document: env.DOCUMENTO!,
    birthdate: env.NACIMIENTO!,
    number,
  };
  // Checked as the server will check it: a bad bet stops the client at start (exit 2).
  const problem = validateBet(bet, { agencies: agency });
  if (problem !== undefined) {
    throw new ConfigError(`Invalid bet in ${SINGLE_BET_ENV.join(", ")}: ${problem}`);
  }
  return bet;
}

async function* oneBet(bet: Bet): AsyncGenerator<PackedRecords> {
  yield { ...packBets([bet]), lines: new Int32Array(1) };
}

/** A framed conversation with the server. */
class Peer {
  #conn: Deno.TcpConn;
  #reader: ByteReader;

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#reader = new ByteReader(conn);
  }

  send(message: Message): Promise<void> {
    return writeAll(this.#conn, encodeMessage(message));
  }

  /** Writes the frames of `batches` (already encoded) in one write, and marks them sent. */
  async writeFrames(batches: InFlight[]): Promise<void> {
    let size = 0;
    for (const batch of batches) size += batch.frame.length;
    const bytes = new Uint8Array(size);
    let offset = 0;
    for (const batch of batches) {
      bytes.set(batch.frame, offset);
      offset += batch.frame.length;
    }
    await writeAll(this.#conn, bytes);
    for (const batch of batches) batch.sent = true;
  }

  /** Reads the next message; it must be of `type` (an ERROR frame becomes a {@linkcode ServerError}). */
  async expect<T extends Message["type"]>(type: T): Promise<Extract<Message, { type: T }>> {
    const frame = await readFrame(this.#reader);
    if (frame === null) throw new ConnectionClosedError("Server closed the connection");
    const message = decodeMessage(frame);
    if (message.type === type) return message as Extract<Message, { type: T }>;
    if (message.type === MessageType.ERROR) throw new ServerError(message.code, message.reason);
    throw new ProtocolError(
      `Unexpected message: ${messageTypeName(message.type)} (expected ${messageTypeName(type)})`,
    );
  }
}

function describe(error: unknown): string {
  if (error instanceof CsvFormatError) return error.message;
  if (error instanceof Deno.errors.ConnectionRefused) return "connection refused";
  return firstLine(error instanceof Error ? error.message : String(error));
}

function firstLine(text: string): string {
  const newline = text.indexOf("\n");
  return newline < 0 ? text : text.slice(0, newline);
}
