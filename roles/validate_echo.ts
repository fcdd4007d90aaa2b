/**
 * `tp0 validate-echo`: checks that a server echoes a line back, the way
 * `echo "$msg" | nc host port` would. It speaks plain TCP text, so it works
 * against any line or byte echo server, and against tp0's server, which
 * answers text lines in its netcat dialect.
 *
 * @module
 */

import {
  EXIT_FAIL,
  EXIT_OK,
  formatDuration,
  parseCommand,
  parseDuration,
  printOut,
  runCommand,
  splitHostPort,
  UsageError,
  writeAll,
} from "../util/mod.ts";
import { formatEvent } from "./log.ts";

/** Usage text of `tp0 validate-echo`. */
export const VALIDATE_ECHO_USAGE =
  `Usage: tp0 validate-echo [--address host:port] [--message text] [--timeout 10s]

Connects to an echo server, sends one line and checks that the same line comes
back, like: echo "$message" | nc host port
Prints one line and exits 0 on success, 1 on failure, 2 on bad usage:
  action: test_echo_server | result: success
  action: test_echo_server | result: fail | reason: connection refused

Options:
  --address host:port  server to test (default server:12345; IPv6 as [::1]:12345)
  --message text       line to send, without line breaks
                       (default "tp0 validate-echo <random hex>")
  --timeout duration   bound on connect, send and answer together, e.g. 500ms, 2s
                       (default 10s)
  -h, --help           show this help
`;

/** The default server address: the server service of the Compose file. */
export const DEFAULT_ECHO_ADDRESS = "server:12345";

/** The default bound on the whole exchange, in milliseconds. */
export const DEFAULT_ECHO_TIMEOUT_MS = 10_000;

/** What {@linkcode validateEcho} checks. */
export interface ValidateEchoOptions {
  /** `host:port` (or `[ipv6]:port`) of the echo server. */
  address: string;
  /** The line to send, without line breaks. */
  message: string;
  /** Bound on connect, write and read together, in milliseconds. */
  timeoutMs: number;
}

/** The outcome of {@linkcode validateEcho}: a failure carries a short reason. */
export type EchoResult = { ok: true } | { ok: false; reason: string };

/** Where {@linkcode runValidateEcho} prints its result line. */
export interface ValidateEchoOutput {
  /** Prints the result line. @default printOut */
  stdout?: (line: string) => void;
}

/** The longest timer `setTimeout` keeps (about 24.8 days); longer ones fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** Answers longer than the message plus this many bytes are cut short. */
const ANSWER_SLACK_BYTES = 8192;
/** How much of an unexpected answer the reason quotes. */
const QUOTED_ANSWER_CHARS = 80;

/**
 * Connects to `options.address`, sends `options.message` plus "\n", reads up
 * to "\n" (or end of stream) and compares the answer with the message, a
 * trailing "\r" forgiven. The connection is always closed; one timer bounds
 * the whole exchange. Throws a `RangeError` for a bad address, a message with
 * a line break or a timeout that is not a positive number.
 */
export async function validateEcho(options: ValidateEchoOptions): Promise<EchoResult> {
  const { hostname, port } = splitHostPort(options.address);
  checkMessage(options.message);
  const { timeoutMs } = options;
  if (!(timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS)) {
    throw new RangeError(
      `Invalid timeout: ${timeoutMs} ms (expected more than 0, at most ${MAX_TIMEOUT_MS})`,
    );
  }

  const controller = new AbortController();
  let conn: Deno.TcpConn | undefined;
  let closed = false;
  const close = () => {
    if (conn === undefined || closed) return;
    closed = true;
    try {
      conn.close();
    } catch {
      // Already closed by the abort signal or the peer: nothing left to free.
    }
  };
  const timer = setTimeout(() => {
    controller.abort();
    close();
  }, timeoutMs);
  const timedOut = (): EchoResult => ({
    ok: false,
    reason: `timeout after ${formatDuration(timeoutMs)}`,
  });

  try {
    conn = await Deno.connect({ hostname, port, signal: controller.signal });
    if (controller.signal.aborted) return timedOut();
    const request = new TextEncoder().encode(`${options.message}\n`);
    await writeAll(conn, request);
    const answer = await readAnswer(conn, request.length + ANSWER_SLACK_BYTES);
    if (answer === null) return { ok: false, reason: "connection closed before answer" };
    const line = answer.replace(/\r?\n$/, "");
    if (line === options.message) return { ok: true };
    return { ok: false, reason: `unexpected answer: ${quoteAnswer(line)}` };
  } catch (error) {
    if (controller.signal.aborted) return timedOut();
    return { ok: false, reason: describeNetworkError(error, hostname) };
  } finally {
    clearTimeout(timer);
    close();
  }
}

/**
 * Runs `tp0 validate-echo` with the arguments after the subcommand name and
 * returns the exit code: 0 echoed, 1 not echoed, 2 bad usage.
 */
export function runValidateEcho(
  args: string[],
  output: ValidateEchoOutput = {},
): Promise<number> {
  const stdout = output.stdout ?? printOut;
  return runCommand(VALIDATE_ECHO_USAGE, async () => {
    const { values, help } = parseCommand(args, {
      options: {
        address: { type: "string" },
        message: { type: "string" },
        timeout: { type: "string" },
      },
      usage: VALIDATE_ECHO_USAGE,
    });
    if (help) {
      stdout(VALIDATE_ECHO_USAGE);
      return EXIT_OK;
    }
    const address = values.address ?? DEFAULT_ECHO_ADDRESS;
    const message = values.message ?? defaultMessage();
    const timeoutMs = values.timeout === undefined
      ? DEFAULT_ECHO_TIMEOUT_MS
      : parseTimeout(values.timeout);
    try {
      splitHostPort(address);
      checkMessage(message);
    } catch (error) {
      if (error instanceof RangeError) throw new UsageError(error.message, { cause: error });
      throw error;
    }

    const result = await validateEcho({ address, message, timeoutMs });
    stdout(formatResult(result));
    return result.ok ? EXIT_OK : EXIT_FAIL;
  });
}

/**
 * The result line, one record: `action: test_echo_server | result: success`
 * or `... | result: fail | reason: <reason>`, escaped like every log line
 * ("|" shown as "¦", line breaks as `\n`, `\r`).
 */
export function formatResult(result: EchoResult): string {
  if (result.ok) return formatEvent({ action: "test_echo_server", result: "success" });
  return formatEvent({ action: "test_echo_server", result: "fail", reason: result.reason });
}

/** Rejects a message that would not stay one line on the wire. */
function checkMessage(message: string): void {
  if (/[\r\n]/.test(message)) {
    throw new RangeError(
      `Invalid message: ${JSON.stringify(message)} (expected one line, without line breaks)`,
    );
  }
}

/** Parses `--timeout` (Go duration syntax); it must be more than zero. */
function parseTimeout(text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (error) {
    throw new UsageError(
      `Invalid timeout: ${JSON.stringify(text)} (expected a duration such as 500ms or 10s)`,
      { cause: error },
    );
  }
  if (!(ms > 0 && ms <= MAX_TIMEOUT_MS)) {
    throw new UsageError(
      `Invalid timeout: ${JSON.stringify(text)} (expected more than 0, at most ${
        formatDuration(MAX_TIMEOUT_MS)
      })`,
    );
  }
  return ms;
}

/** A message that differs between runs, so a stale answer cannot pass. */
function defaultMessage(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `tp0 validate-echo ${hex}`;
}

/**
 * Reads up to and including the first "\n", to end of stream, or to `limit`
 * bytes, whichever comes first. Null when the stream ends before any byte.
 */
async function readAnswer(conn: Deno.Conn, limit: number): Promise<string | null> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buffer = new Uint8Array(4096);
  while (total < limit) {
    const count = await conn.read(buffer);
    if (count === null) break;
    const newline = buffer.subarray(0, count).indexOf(0x0a);
    const end = newline === -1 ? count : newline + 1;
    chunks.push(buffer.slice(0, Math.min(end, limit - total)));
    total += chunks[chunks.length - 1].length;
    if (newline !== -1) break;
  }
  if (total === 0) return null;
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(bytes);
}

/** The answer quoted with JSON escapes, cut to a readable length. */
function quoteAnswer(answer: string): string {
  if (answer.length <= QUOTED_ANSWER_CHARS) return JSON.stringify(answer);
  return `${JSON.stringify(answer.slice(0, QUOTED_ANSWER_CHARS))}…`;
}

/** A short, lower-case reason for a failed connect, write or read. */
function describeNetworkError(error: unknown, hostname: string): string {
  if (error instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (error instanceof Deno.errors.ConnectionReset) return "connection reset by peer";
  if (error instanceof Deno.errors.ConnectionAborted) return "connection aborted";
  if (error instanceof Deno.errors.BrokenPipe) return "connection closed before answer";
  if (error instanceof Deno.errors.NotConnected) return "connection closed before answer";
  if (error instanceof Deno.errors.NetworkUnreachable) return "network unreachable";
  if (error instanceof Deno.errors.TimedOut) return "connect timed out";
  const message = error instanceof Error ? error.message : String(error);
  if (/failed to lookup address|name or service not known|name resolution/i.test(message)) {
    return `unknown host: ${hostname}`;
  }
  return message.charAt(0).toLowerCase() + message.slice(1);
}
