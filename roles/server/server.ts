/**
 * The server's lifecycle: open the lottery's storage, listen, accept
 * connections (each a {@linkcode Session}, or refused past MAX_CONNECTIONS),
 * run the draw when the last agency is done, and shut everything down in
 * reverse order of opening.
 *
 * @module
 */

import type { Lottery } from "../../store/mod.ts";
import { describeError } from "../../util/mod.ts";
import type { ServerConfig } from "../config/mod.ts";
import { log } from "../log.ts";
import { sleep } from "../shutdown.ts";
import { Admission } from "./admission.ts";
import { AgencyKeyring } from "./auth.ts";
import { Session } from "./session.ts";
import { type OpenLottery, openLottery } from "./storage.ts";

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
  const keyring = config.agencyKeys === undefined
    ? undefined
    : await AgencyKeyring.from(config.agencyKeys.keys);
  const storage = await openLottery(config, options.signal);
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({
      hostname: config.host,
      port: config.port,
      transport: "tcp",
      tcpBacklog: config.listenBacklog,
    });
  } catch (error) {
    await storage.close();
    throw error;
  }
  const server = new Server(config, { storage, listener, keyring });
  options.signal?.addEventListener("abort", () => server.close(), { once: true });
  if (options.signal?.aborted) server.close();
  return server;
}

/** Everything the server owns; closed in reverse order of opening. */
interface ServerResources {
  storage: OpenLottery;
  listener: Deno.TcpListener;
  /** The agencies' keys; none: agencies are not authenticated. */
  keyring: AgencyKeyring | undefined;
}

class Server implements ServerHandle {
  readonly addr: Deno.NetAddr;
  readonly finished: Promise<void>;
  #config: ServerConfig;
  #storage: OpenLottery;
  #listener: Deno.TcpListener;
  #lottery: Lottery;
  #sessions = new Set<Session>();
  #keyring: AgencyKeyring | undefined;
  /**
   * With keys: the sessions that have not authenticated, oldest first. They do not count
   * against MAX_CONNECTIONS; past MAX_HANDSHAKES the oldest is closed for the newcomer.
   */
  #unauthenticated = new Set<Session>();
  #closing = new AbortController();
  #admission: Admission;
  /** Resolves `winnersDelay` after the `sorteo` line: no winners go out before. */
  #announced = Promise.withResolvers<void>();
  #accepting: Promise<void>;
  #drawStarted = false;
  #closed?: Promise<void>;
  #stopped: () => void;

  constructor(config: ServerConfig, resources: ServerResources) {
    this.#config = config;
    this.#storage = resources.storage;
    this.#lottery = resources.storage.lottery;
    this.#listener = resources.listener;
    this.#keyring = resources.keyring;
    this.addr = resources.listener.addr as Deno.NetAddr;
    this.#admission = new Admission({
      maxConnections: config.maxConnections,
      readTimeoutMs: config.readTimeoutMs,
      signal: this.#closing.signal,
    });
    this.#accepting = this.#acceptLoop();
    const stopped = Promise.withResolvers<void>();
    this.finished = stopped.promise;
    this.#stopped = stopped.resolve;
    // Every agency was already done before a restart: the draw runs now, for late queries.
    if (this.#lottery.allDone) void this.#runDraw();
    // A shared lottery: the last DONE may come to another replica.
    this.#lottery.allDoneAnywhere?.then(() => this.#runDraw(), () => {});
  }

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
      if (this.#keyring !== undefined) this.#serveUnauthenticated(conn);
      else if (this.#admission.admits(this.#sessions.size)) this.#serve(conn);
      else this.#admission.refuse(conn);
    }
    // The listener failed on its own: stop the rest too.
    if (!signal.aborted) void this.close();
  }

  #serve(conn: Deno.TcpConn): Session {
    const session = new Session(conn, {
      lottery: this.#lottery,
      signal: this.#closing.signal,
      config: this.#config,
      onLastDone: () => this.#runDraw(),
      announced: this.#announced.promise,
      keyring: this.#keyring,
      onAuthenticated: (authenticated) => this.#admitAuthenticated(authenticated),
    });
    this.#sessions.add(session);
    session.run().finally(() => {
      this.#sessions.delete(session);
      this.#unauthenticated.delete(session);
    });
    return session;
  }

  /**
   * With keys, a new connection waits for its handshake outside MAX_CONNECTIONS, among at
   * most MAX_HANDSHAKES others: when they are that many, the oldest is closed. So
   * connections that never authenticate cannot keep an agency out.
   */
  #serveUnauthenticated(conn: Deno.TcpConn): void {
    if (this.#unauthenticated.size >= this.#config.maxHandshakes) {
      const oldest = this.#unauthenticated.values().next().value!;
      this.#unauthenticated.delete(oldest);
      oldest.evict(
        `too many connections not authenticated (MAX_HANDSHAKES ${this.#config.maxHandshakes})` +
          `: the oldest closed`,
      );
    }
    this.#unauthenticated.add(this.#serve(conn));
  }

  /** Whether an authenticated connection fits MAX_CONNECTIONS; if so it counts there now. */
  #admitAuthenticated(session: Session): boolean {
    const serving = this.#sessions.size - this.#unauthenticated.size;
    if (!this.#admission.admits(serving)) return false;
    this.#unauthenticated.delete(session);
    return true;
  }

  async #runDraw(): Promise<void> {
    if (this.#drawStarted) return;
    this.#drawStarted = true;
    try {
      const winners = await this.#lottery.draw();
      let total = 0;
      for (const documents of winners.values()) total += documents.length;
      // Of several replicas sharing the lottery, the one whose claim ran the draw logs it.
      if (this.#lottery.drewHere !== false) {
        log.info({
          action: "sorteo",
          result: "success",
          cant_ganadores: total,
          ...this.#storage.logFields,
        });
      }
      // The draw's line gets a head start on the answers it causes (README, "Running it
      // the course's way"); a shutdown meanwhile ends the wait.
      if (this.#config.winnersDelayMs > 0) {
        await sleep(this.#config.winnersDelayMs, this.#closing.signal);
      }
    } catch (error) {
      log.error({
        action: "sorteo",
        result: "fail",
        error: describeError(error),
        ...this.#storage.logFields,
      });
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
    await Promise.allSettled([
      ...sessions.map((session) => session.finished),
      this.#admission.finished(),
    ]);
    // Waits for the flush in progress: every batch is either committed whole or cut at restart.
    await this.#storage.close();
    log.info({ action: "shutdown", result: "success", resource: "storage" });
  }
}
