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
  decodeMessage,
  encodeMessage,
  encodeWinnersReplies,
  ErrorCode,
  errorCodeName,
  MAGIC,
  type Message,
  MessageType,
  messageTypeName,
  ProtocolError,
  readFrame,
  writeAll,
} from "../protocol/mod.ts";
import { BetStore, Lottery } from "../store/mod.ts";
import { EXIT_OK, EXIT_USAGE, parseCommand, printErr, printOut, runCommand } from "./cli.ts";
import {
  ConfigError,
  describeServerConfig,
  loadServerConfig,
  type ServerConfig,
} from "./config.ts";
import { log, setupLogging } from "./log.ts";
import { abortable, abortOnSignals } from "./shutdown.ts";

/** Longest text line the echo dialect accepts, like a frame. */
const MAX_LINE_BYTES = 8192;
/** How many batches of one connection may wait for their ack at once. */
const ACK_WINDOW = 64;

const USAGE = `Usage: tp0 server [options]

Runs the lottery server: receives bets from the agencies, stores them durably,
runs the draw when every agency is done and answers each agency's winners.
It also echoes plain text lines (netcat) and ECHO frames on the same port.

Options:
  --config <path>          INI file, section [DEFAULT] (default: config/server.ini)
  --host <addr>            address to listen on            (SERVER_HOST, default 0.0.0.0)
  --port <n>               TCP port, 0 = any free port     (SERVER_PORT, default 12345)
  --listen-backlog <n>     listen backlog                  (SERVER_LISTEN_BACKLOG, default 5)
  --logging-level <level>  DEBUG, INFO, WARNING, ERROR, CRITICAL (LOGGING_LEVEL, default INFO)
  --agencies <n>           agencies to wait for before the draw (AGENCIES, default 5)
  --storage <path>         CSV file where bets are stored  (STORAGE_PATH, default ./bets.csv)
  -h, --help               show this help

Precedence: flag > environment variable > config file > default.
SIGTERM or SIGINT closes the listener, every connection and the storage, then exits 0.`;

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
 * Opens the storage, binds the listener and starts serving. Returns once the
 * server accepts connections.
 */
export async function startServer(
  config: ServerConfig,
  options: StartServerOptions = {},
): Promise<ServerHandle> {
  const store = await BetStore.open(config.storagePath);
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: config.host, port: config.port, transport: "tcp" });
  } catch (error) {
    await store.close();
    throw error;
  }
  const server = new Server(config, { store, listener });
  options.signal?.addEventListener("abort", () => server.close(), { once: true });
  if (options.signal?.aborted) server.close();
  return server;
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
  #closing = new AbortController();
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
    try {
      for await (const conn of this.#listener) this.#serve(conn);
    } catch (error) {
      if (!this.#closing.signal.aborted) {
        log.error({ action: "accept", result: "fail", error: describeError(error) });
      }
    }
    // The listener failed on its own: stop the rest too.
    if (!this.#closing.signal.aborted) void this.close();
  }

  #serve(conn: Deno.TcpConn): void {
    const session = new Session(conn, {
      lottery: this.#lottery,
      signal: this.#closing.signal,
      onLastDone: () => this.#runDraw(),
    });
    this.#sessions.add(session);
    session.run().finally(() => this.#sessions.delete(session));
  }

  async #runDraw(): Promise<void> {
    try {
      const winners = await this.#lottery.draw();
      let total = 0;
      for (const documents of winners.values()) total += documents.length;
      log.info({ action: "sorteo", result: "success", cant_ganadores: total });
    } catch (error) {
      log.error({ action: "sorteo", result: "fail", error: describeError(error) });
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
    await Promise.allSettled(sessions.map((session) => session.finished));
    await this.#store.close();
    log.info({ action: "shutdown", result: "success", resource: "storage" });
  }
}

/** What a session shares with the server. */
interface SessionContext {
  lottery: Lottery;
  /** Aborted when the server shuts down. */
  signal: AbortSignal;
  /** Called once, by the session whose "agency done" completes the set. */
  onLastDone: () => void;
}

/**
 * One connection. Reads frames one after another; a batch is validated at
 * once and handed to the store, and its ack is queued behind the previous
 * ones, so a client may pipeline batches and acks come back in order.
 */
class Session {
  #conn: Deno.TcpConn;
  #ctx: SessionContext;
  #ip: string;
  #agency?: number;
  #outbox: Promise<void>[] = [];
  #finished = Promise.withResolvers<void>();
  #closedByServer = false;

  constructor(conn: Deno.TcpConn, ctx: SessionContext) {
    this.#conn = conn;
    this.#ctx = ctx;
    this.#ip = (conn.remoteAddr as Deno.NetAddr).hostname;
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
      const first = await reader.peek();
      if (first === MAGIC) await this.#serveFrames(reader);
      else if (first !== null) await this.#serveLines(reader);
      await this.#flushOutbox();
    } catch (error) {
      await this.#fail(error);
    } finally {
      this.#release();
      this.#finished.resolve();
    }
  }

  async #serveLines(reader: ByteReader): Promise<void> {
    const encoder = new TextEncoder();
    for (let line; (line = await reader.readLine(MAX_LINE_BYTES)) !== null;) {
      log.info({ action: "receive_message", result: "success", ip: this.#ip, msg: line });
      await writeAll(this.#conn, encoder.encode(`${line}\n`));
    }
  }

  async #serveFrames(reader: ByteReader): Promise<void> {
    for (let frame; (frame = await readFrame(reader)) !== null;) {
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
        case MessageType.BET_BATCH:
          this.#bindAgency(message.agency);
          await this.#onBatch(message);
          break;
        case MessageType.AGENCY_DONE:
          this.#bindAgency(message.agency);
          await this.#onDone(message.agency);
          break;
        case MessageType.WINNERS_QUERY:
          this.#bindAgency(message.agency);
          await this.#onWinnersQuery(message.agency);
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

  async #onBatch(batch: Extract<Message, { type: typeof MessageType.BET_BATCH }>): Promise<void> {
    const { batchId, bets } = batch;
    const lottery = this.#ctx.lottery;
    if (lottery.isDone(batch.agency)) {
      throw new ProtocolError(
        `Bets after agency done: batch ${batchId} of agency ${batch.agency}`,
        { code: ErrorCode.OUT_OF_ORDER },
      );
    }
    const invalid = lottery.validate(bets);
    if (invalid !== undefined) {
      log.warning({
        action: "apuesta_recibida",
        result: "fail",
        cantidad: bets.length,
        agency: batch.agency,
        reason: invalid,
      });
      this.#send(batchResult(batchId, ErrorCode.INVALID_BET, invalid));
      return;
    }
    const reply = lottery.store(bets).then(
      () => {
        logStored(bets);
        log.info({ action: "apuesta_recibida", result: "success", cantidad: bets.length });
        return batchResult(batchId, ErrorCode.OK, "");
      },
      (error: unknown) => {
        const reason = `Storage failed: ${describeError(error)}`;
        log.error({ action: "apuesta_recibida", result: "fail", cantidad: bets.length, reason });
        return batchResult(batchId, ErrorCode.STORAGE, reason);
      },
    );
    this.#send(reply);
    if (this.#outbox.length >= ACK_WINDOW) await this.#outbox.shift();
  }

  async #onDone(agency: number): Promise<void> {
    // Every batch this connection sent is stored before the agency counts as done.
    await this.#flushOutbox();
    const outcome = this.#ctx.lottery.markDone(agency);
    log.info({
      action: "agencia_finalizada",
      result: "success",
      agency,
      agencias_listas: this.#ctx.lottery.doneCount,
      agencias: this.#ctx.lottery.agencies,
    });
    this.#send(encodeMessage({ type: MessageType.DONE_ACK, agency }));
    if (outcome === "last") this.#ctx.onLastDone();
  }

  async #onWinnersQuery(agency: number): Promise<void> {
    const lottery = this.#ctx.lottery;
    if (!lottery.isDone(agency)) {
      throw new ProtocolError(`Winners query before agency done: agency ${agency}`, {
        code: ErrorCode.OUT_OF_ORDER,
      });
    }
    await this.#flushOutbox();
    const winners = await abortable(lottery.winners(agency), this.#ctx.signal);
    for (const frame of encodeWinnersReplies([...winners])) this.#send(frame);
    log.info({
      action: "ganadores_enviados",
      result: "success",
      agency,
      cant_ganadores: winners.length,
    });
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
    if (error instanceof ProtocolError) {
      log.error({
        action: "connection",
        result: "fail",
        ip: this.#ip,
        agency: this.#agency,
        code: errorCodeName(error.code),
        reason: error.message,
      });
      try {
        await this.#flushOutbox();
        await writeAll(
          this.#conn,
          encodeMessage({ type: MessageType.ERROR, code: error.code, reason: error.message }),
        );
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
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}

function batchResult(batchId: number, code: number, reason: string): Uint8Array {
  return encodeMessage({ type: MessageType.BATCH_RESULT, batchId, code, reason });
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

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `tp0 server [options]`: runs the server until SIGTERM or SIGINT. */
export function runServer(args: string[]): Promise<number> {
  return runCommand(USAGE, async () => {
    const { values, help } = parseCommand(args, {
      usage: USAGE,
      options: {
        config: { type: "string" },
        host: { type: "string" },
        port: { type: "string" },
        "listen-backlog": { type: "string" },
        "logging-level": { type: "string" },
        agencies: { type: "string" },
        storage: { type: "string" },
      },
    });
    if (help) {
      printOut(USAGE);
      return EXIT_OK;
    }
    let config: ServerConfig;
    try {
      config = await loadServerConfig({
        configPath: values.config,
        flags: {
          host: values.host,
          port: values.port,
          listenBacklog: values["listen-backlog"],
          loggingLevel: values["logging-level"],
          agencies: values.agencies,
          storagePath: values.storage,
        },
      });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      printErr(`tp0 server: ${error.message}`);
      return EXIT_USAGE;
    }
    setupLogging(config.loggingLevel);
    log.info({ action: "config", result: "success", ...describeServerConfig(config) });

    const controller = new AbortController();
    using _signals = abortOnSignals(controller);
    let server: ServerHandle;
    try {
      server = await startServer(config, { signal: controller.signal });
    } catch (error) {
      log.critical({ action: "server_start", result: "fail", error: describeError(error) });
      return 1;
    }
    await server.finished;
    log.info({ action: "exit", result: "success", code: EXIT_OK });
    return EXIT_OK;
  });
}
