/**
 * The client role: an agency. In `echo` mode it sends numbered messages and
 * checks each answer; in `lottery` mode it streams its bets file to the server
 * in batches, says it is done, and asks for its winners.
 *
 * @module
 */

import {
  BET_BATCH_HEADER_SIZE,
  ByteReader,
  ConnectionClosedError,
  decodeMessage,
  encodedBetSize,
  encodeMessage,
  ErrorCode,
  errorCodeName,
  type ErrorCodeValue,
  MAX_PAYLOAD_SIZE,
  type Message,
  MessageType,
  messageTypeName,
  ProtocolError,
  readFrame,
  writeAll,
} from "../protocol/mod.ts";
import { type AgencyBetRecord, type Bet, CsvFormatError, readAgencyBets } from "../store/mod.ts";
import {
  EXIT_FAIL,
  EXIT_OK,
  EXIT_USAGE,
  parseCommand,
  printErr,
  printOut,
  runCommand,
} from "./cli.ts";
import {
  type ClientConfig,
  ConfigError,
  describeClientConfig,
  loadClientConfig,
} from "./config.ts";
import { log, setupLogging } from "./log.ts";
import { abortOnSignals, ShutdownRequested, sleep } from "./shutdown.ts";

/** Batches that may be on the wire without their ack (pipelining window). */
const BATCH_WINDOW = 32;
/** Room for bets in one BET_BATCH frame. */
const BATCH_BYTES = MAX_PAYLOAD_SIZE - BET_BATCH_HEADER_SIZE;
/** How often a long run reports progress. */
const PROGRESS_EVERY_MS = 1000;

const USAGE = `Usage: tp0 client --id <n> [options]

Runs one agency. In lottery mode (the default) it sends its bets in batches,
says it is done and asks for its winners; in echo mode it sends
"[CLIENT {id}] Message N°{n}" loop.amount times, one every loop.period.

Options:
  --id <n>                 agency number                         (CLI_ID, required)
  --config <path>          YAML config (default: config/client.yaml)
  --server-address <h:p>   server address                        (CLI_SERVER_ADDRESS, default server:12345)
  --mode <mode>            lottery or echo                       (CLI_MODE, default lottery)
  --data <path>            bets file                             (CLI_DATA_PATH, default .data/agency-{id}.csv)
  --batch-max-amount <n>   bets per batch, capped at 8 KiB frames (CLI_BATCH_MAXAMOUNT, default 100)
  --loop-amount <n>        echo messages to send                 (CLI_LOOP_AMOUNT, default 5)
  --loop-period <d>        pause between echo messages, e.g. 5s  (CLI_LOOP_PERIOD, default 5s)
  --log-level <level>      DEBUG, INFO, WARNING, ERROR, CRITICAL (CLI_LOG_LEVEL, default INFO)
  -h, --help               show this help

A single bet comes from the environment instead of the file when NOMBRE,
APELLIDO, DOCUMENTO, NACIMIENTO and NUMERO are all set.
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
          mode: values.mode,
          dataPath: values.data,
          batchMaxAmount: values["batch-max-amount"],
          loopAmount: values["loop-amount"],
          loopPeriod: values["loop-period"],
          logLevel: values["log-level"],
        },
      });
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
    log.info({ action: "exit", result: code === EXIT_OK ? "success" : "fail", code });
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
  let conn: Deno.TcpConn | undefined;
  const onAbort = () => closeQuietly(conn);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    conn = await connect(config.serverAddress);
    if (signal.aborted) return stopped(signal);
    log.info({ action: "connect", result: "success", server_address: config.serverAddress });
    const peer = new Peer(conn);
    if (config.mode === "echo") return await echoLoop(peer, { config, signal });
    const env = options.env ?? Deno.env.toObject();
    return await sendBets(peer, { config, signal, env });
  } catch (error) {
    if (signal.aborted) return stopped(signal);
    log.error({ action: "client", result: "fail", client_id: config.id, reason: describe(error) });
    return EXIT_FAIL;
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (conn && !signal.aborted) {
      closeQuietly(conn);
      log.info({ action: "shutdown", result: "success", resource: "connection" });
    }
  }
}

/** Logs the closures a stop causes and returns the graceful exit code. */
function stopped(signal: AbortSignal): number {
  const reason = signal.reason instanceof ShutdownRequested ? signal.reason.signal : "abort";
  log.info({ action: "shutdown", result: "success", resource: "connection", signal: reason });
  return EXIT_OK;
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

/** One batch on the wire, waiting for its ack. */
interface InFlight {
  batchId: number;
  bets: Bet[];
}

interface LotteryContext extends LoopContext {
  env: Record<string, string | undefined>;
}

async function sendBets(peer: Peer, { config, signal, env }: LotteryContext): Promise<number> {
  const started = performance.now();
  const single = singleBetFromEnv(env, config.id);
  const source = single ? oneBet(single) : readAgencyBets(config.dataPath, { agency: config.id });
  const totals = { sent: 0, rejected: 0, batches: 0 };
  const window: InFlight[] = [];
  const progress = new Progress(started);

  const awaitAck = async () => {
    const inFlight = window.shift()!;
    const result = await peer.expect(MessageType.BATCH_RESULT);
    if (result.batchId !== inFlight.batchId) {
      throw new ProtocolError(
        `Ack out of order: batch ${result.batchId} (expected ${inFlight.batchId})`,
        { code: ErrorCode.MALFORMED },
      );
    }
    if (result.code === 0) {
      totals.sent += inFlight.bets.length;
      if (single) {
        log.info({
          action: "apuesta_enviada",
          result: "success",
          dni: single.document,
          numero: single.number,
        });
      }
    } else {
      totals.rejected += inFlight.bets.length;
      log.error({
        action: "apuesta_enviada",
        result: "fail",
        batch_id: inFlight.batchId,
        cantidad: inFlight.bets.length,
        code: errorCodeName(result.code),
        reason: result.reason,
      });
    }
    if (progress.due()) progress.report(totals.sent);
  };

  const flush = async (bets: Bet[]) => {
    const batchId = ++totals.batches;
    await peer.send({ type: MessageType.BET_BATCH, agency: config.id, batchId, bets });
    window.push({ batchId, bets });
    if (window.length >= BATCH_WINDOW) await awaitAck();
  };

  let batch: Bet[] = [];
  let batchBytes = 0;
  for await (const { bet, line } of source) {
    if (signal.aborted) return stopped(signal);
    const size = sizeOnTheWire(bet, { path: config.dataPath, line });
    if (
      batch.length > 0 && (batch.length >= config.batchMaxAmount || batchBytes + size > BATCH_BYTES)
    ) {
      await flush(batch);
      batch = [];
      batchBytes = 0;
    }
    batch.push(bet);
    batchBytes += size;
  }
  if (batch.length > 0) await flush(batch);
  while (window.length > 0) await awaitAck();

  await peer.send({ type: MessageType.AGENCY_DONE, agency: config.id });
  await peer.expect(MessageType.DONE_ACK);
  log.info({
    action: "apuestas_enviadas",
    result: "success",
    client_id: config.id,
    cantidad: totals.sent,
  });

  await peer.send({ type: MessageType.WINNERS_QUERY, agency: config.id });
  const winners: string[] = [];
  for (;;) {
    const reply = await peer.expect(MessageType.WINNERS_REPLY);
    winners.push(...reply.documents);
    if (reply.last) break;
  }
  log.info({ action: "consulta_ganadores", result: "success", cant_ganadores: winners.length });
  if (log.enabled("DEBUG")) {
    for (const document of winners) {
      log.debug({ action: "ganador", result: "success", dni: document });
    }
  }

  const ok = totals.rejected === 0;
  const elapsed = (performance.now() - started) / 1000;
  log.info({
    action: "resumen",
    result: ok ? "success" : "fail",
    client_id: config.id,
    apuestas_enviadas: totals.sent,
    apuestas_rechazadas: totals.rejected,
    lotes: totals.batches,
    ganadores: winners.length,
    segundos: elapsed.toFixed(3),
  });
  return ok ? EXIT_OK : EXIT_FAIL;
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
  return {
    agency,
    firstName: env.NOMBRE!,
    lastName: env.APELLIDO!,
    document: env.DOCUMENTO!,
    birthdate: env.NACIMIENTO!,
    number,
  };
}

async function* oneBet(bet: Bet): AsyncGenerator<AgencyBetRecord> {
  yield { bet, line: 0 };
}

/** The bet's size in a BET_BATCH; a bet that cannot be encoded is a file error at its line. */
function sizeOnTheWire(bet: Bet, where: { path: string; line: number }): number {
  try {
    return encodedBetSize(bet);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    const path = where.line === 0 ? "environment" : where.path;
    throw new CsvFormatError(error.message, { path, line: where.line, cause: error });
  }
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

  /** Reads the next message; it must be of `type` (an ERROR frame becomes a ProtocolError). */
  async expect<T extends Message["type"]>(type: T): Promise<Extract<Message, { type: T }>> {
    const frame = await readFrame(this.#reader);
    if (frame === null) throw new ConnectionClosedError("Server closed the connection");
    const message = decodeMessage(frame);
    if (message.type === type) return message as Extract<Message, { type: T }>;
    if (message.type === MessageType.ERROR) {
      throw new ProtocolError(`Server error ${errorCodeName(message.code)}: ${message.reason}`, {
        code: message.code as ErrorCodeValue,
      });
    }
    throw new ProtocolError(
      `Unexpected message: ${messageTypeName(message.type)} (expected ${messageTypeName(type)})`,
    );
  }
}

/** Connects to `host:port` (IPv6 as `[::1]:port`). */
export async function connect(address: string): Promise<Deno.TcpConn> {
  const { hostname, port } = splitAddress(address);
  return await Deno.connect({ hostname, port, transport: "tcp" });
}

/** Splits `host:port` or `[v6]:port`. */
export function splitAddress(address: string): { hostname: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  if (!match) throw new RangeError(`Invalid address: "${address}" (expected host:port)`);
  return { hostname: match[1] ?? match[2], port: Number(match[3]) };
}

function closeQuietly(conn: Deno.TcpConn | undefined): void {
  try {
    conn?.close();
  } catch {
    // Already closed.
  }
}

function describe(error: unknown): string {
  if (error instanceof CsvFormatError) return error.message;
  if (error instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (error instanceof Deno.errors.NotFound) return error.message;
  return error instanceof Error ? error.message : String(error);
}
