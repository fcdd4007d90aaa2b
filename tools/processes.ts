/**
 * Runs tp0 roles as child processes, the way a user (or Compose) runs them,
 * and watches their log lines. Shared by the demo, the benchmark and the
 * whole-system tests.
 *
 * @module
 */

/** The program's entry point. */
export const MAIN_TS: string = new URL("../main.ts", import.meta.url).pathname;

/** The project's root folder. */
export const ROOT: string = new URL("..", import.meta.url).pathname;

/**
 * Runtime flags every tp0 process runs with, as in the `tp0` task and the Dockerfile:
 * V8's young generation capped at 8 MiB a semi-space (the default lets it grow to 16
 * and keeps the server over 100 MB in a 10M-bet run; see docs/performance.md).
 */
export const DENO_RUN_FLAGS: readonly string[] = [
  "--allow-all",
  "--v8-flags=--max-semi-space-size=8",
];

/** Options of {@linkcode spawnTp0}. */
export interface SpawnOptions {
  /** Called with each output line (stdout and stderr), without its newline. */
  onLine?: (line: string) => void;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Remove every inherited variable that starts with one of these prefixes. */
  clearEnv?: boolean;
}

/** A running tp0 process and everything it has printed so far. */
export class Tp0Process {
  /** Every line printed so far (stdout and stderr interleaved as read). */
  readonly lines: string[] = [];
  /** Resolves with the exit status once the output is fully read. */
  readonly status: Promise<Deno.CommandStatus>;
  /** The operating system's process id. */
  readonly pid: number;
  #child: Deno.ChildProcess;
  #waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  #onLine?: (line: string) => void;

  /** Wraps a spawned child whose stdout and stderr are piped. */
  constructor(child: Deno.ChildProcess, onLine?: (line: string) => void) {
    this.#child = child;
    this.#onLine = onLine;
    this.pid = child.pid;
    const reading = Promise.all([this.#pump(child.stdout), this.#pump(child.stderr)]);
    this.status = reading.then(() => child.status);
  }

  /** Sends a signal; ignores a process that has already exited. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.#child.kill(signal);
    } catch {
      // Already exited.
    }
  }

  /** Resolves with the first line (past or future) that passes `test`. */
  waitForLine(test: (line: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const seen = this.lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        test,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`No matching line within ${timeoutMs} ms; last lines:\n${this.tail()}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
      this.status.then(() => {
        if (!this.#waiters.includes(waiter)) return;
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        clearTimeout(timer);
        reject(new Error(`Process exited before a matching line; last lines:\n${this.tail()}`));
      });
    });
  }

  /** How many lines printed so far pass `test`. */
  count(test: (line: string) => boolean): number {
    let count = 0;
    for (const line of this.lines) if (test(line)) count++;
    return count;
  }

  /**
   * Resolves with the exit status, or rejects once `timeoutMs` passes first
   * (the process is left running: kill it in a `finally`).
   */
  waitForExit(timeoutMs = 10_000): Promise<Deno.CommandStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Still running after ${timeoutMs} ms; last lines:\n${this.tail()}`)),
        timeoutMs,
      );
    });
    return Promise.race([this.status, timeout]).finally(() => clearTimeout(timer));
  }

  /** The last lines printed, for error messages. */
  tail(count = 15): string {
    return this.lines.slice(-count).join("\n");
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    let carry = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (carry + text).split("\n");
      carry = parts.pop()!;
      for (const line of parts) this.#accept(line);
    }
    if (carry !== "") this.#accept(carry);
  }

  #accept(line: string): void {
    this.lines.push(line);
    this.#onLine?.(line);
    for (const waiter of [...this.#waiters]) {
      if (!waiter.test(line)) continue;
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
      waiter.resolve(line);
    }
  }
}

/** Options of {@linkcode runProgram}. */
export interface RunProgramOptions {
  /** Working directory. @default ROOT */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Kill the program after this many milliseconds (then `code` is non-zero and `timedOut` set). */
  timeoutMs?: number;
  /** Stream its output to this process's stdout and stderr instead of capturing it. @default false */
  inherit?: boolean;
}

/** What {@linkcode runProgram} returns: the exit code and the decoded output. */
export interface ProgramOutput {
  /** Exit code. */
  code: number;
  /** Standard output (empty when inherited). */
  stdout: string;
  /** Standard error (empty when inherited). */
  stderr: string;
  /** Whether it was killed for running past `timeoutMs`. */
  timedOut: boolean;
}

/** What {@linkcode runDeno} returns. */
export type DenoOutput = ProgramOutput;

/**
 * Runs `program args` to completion (no stdin) and returns its exit code,
 * stdout and stderr. A missing program throws `Deno.errors.NotFound`.
 */
export async function runProgram(
  program: string,
  args: string[],
  options: RunProgramOptions = {},
): Promise<ProgramOutput> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  const io = options.inherit ? "inherit" : "piped";
  try {
    const output = await new Deno.Command(program, {
      args,
      cwd: options.cwd ?? ROOT,
      env: options.env,
      stdin: "null",
      stdout: io,
      stderr: io,
      signal: controller.signal,
    }).output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: options.inherit ? "" : decoder.decode(output.stdout),
      stderr: options.inherit ? "" : decoder.decode(output.stderr),
      timedOut,
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `deno <args>` to completion from the project's root (no stdin) and
 * returns its exit code, stdout and stderr. `runDeno(["run", ...DENO_RUN_FLAGS,
 * MAIN_TS, ...])` is a user running tp0; `["eval", code]` runs one function in
 * a process of its own (for code that ends with `Deno.exit`).
 */
export function runDeno(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<DenoOutput> {
  // Bounded: a child that hangs is killed (and the test fails on its exit code).
  return runProgram(Deno.execPath(), args, {
    env: options.env,
    timeoutMs: options.timeoutMs ?? 120_000,
  });
}

/**
 * Starts `deno run <DENO_RUN_FLAGS> --quiet <script> <args>` from the project's
 * root (no stdin; stdout and stderr piped).
 */
export function spawnDeno(script: string, args: string[], options: SpawnOptions = {}): Tp0Process {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...DENO_RUN_FLAGS, "--quiet", script, ...args],
    cwd: ROOT,
    env: options.env,
    clearEnv: options.clearEnv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return new Tp0Process(child, options.onLine);
}

/** Starts `tp0 <args>` with `deno run` (no stdin; stdout and stderr piped). */
export function spawnTp0(args: string[], options: SpawnOptions = {}): Tp0Process {
  return spawnDeno(MAIN_TS, args, options);
}

/** Whether a log line is the server's `action: server_listening` line. */
export function isListeningLine(line: string): boolean {
  return line.includes("action: server_listening |");
}

/** The port of a `server_listening` line (`address: 127.0.0.1:PORT`), or undefined. */
export function listeningPort(line: string): number | undefined {
  const port = Number(/address: [^|]*:(\d+)/.exec(line)?.[1]);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

/** Options of {@linkcode startLocalServer}. */
export interface LocalServerOptions extends SpawnOptions {
  /** Agencies the server waits for. */
  agencies: number;
  /** Storage file. */
  storagePath: string;
  /** More server flags. */
  args?: string[];
  /** Port to listen on (a fixed one lets a restarted server keep its address). @default 0 (any) */
  port?: number;
  /** How the server process is started (e.g. from a bundle). @default spawnTp0 */
  spawn?: (args: string[], options: SpawnOptions) => Tp0Process;
  /** How long it may take to listen. @default 10000 */
  timeoutMs?: number;
}

/** A server child process listening on 127.0.0.1 and the port it bound. */
export interface LocalServer {
  process: Tp0Process;
  port: number;
  address: string;
}

/**
 * Starts `tp0 server` on 127.0.0.1 with a free port, and resolves once it
 * logs `action: server_listening`.
 */
export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const spawn = options.spawn ?? spawnTp0;
  const process = spawn([
    "server",
    "--host",
    "127.0.0.1",
    "--port",
    String(options.port ?? 0),
    "--agencies",
    String(options.agencies),
    "--storage",
    options.storagePath,
    ...(options.args ?? []),
  ], options);
  try {
    const line = await process.waitForLine(isListeningLine, options.timeoutMs);
    const port = listeningPort(line);
    if (port === undefined) throw new Error(`No port in: ${line}`);
    return { process, port, address: `127.0.0.1:${port}` };
  } catch (error) {
    // The caller never gets a handle to a server that did not start: stop it here.
    process.kill("SIGKILL");
    await process.status;
    throw error;
  }
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (bound and released), for
 * a server that must keep its address across restarts. It is taken below the
 * kernel's range of ephemeral ports (32768 and up on Linux): no connection's
 * own source port is ever chosen there, so a client that retries it while the
 * server is down cannot connect to itself, nor take it from the next server.
 */
export function freePort(): number {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    }
  }
  throw new Error("No free port found in 20000..31999");
}
