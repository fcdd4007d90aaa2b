/**
 * `tp0 server`: the command line of the server role (flags, configuration,
 * logging, signals, exit code) around {@linkcode startServer}.
 *
 * @module
 */

import {
  describeError,
  EXIT_OK,
  EXIT_USAGE,
  parseCommand,
  printErr,
  printOut,
  runCommand,
} from "../../util/mod.ts";
import {
  ConfigError,
  DEFAULT_MAX_CONNECTIONS,
  describeServerConfig,
  loadServerConfig,
  type ServerConfig,
} from "../config.ts";
import { log, setupLogging } from "../log.ts";
import { abortOnSignals } from "../shutdown.ts";
import { type ServerHandle, startServer } from "./server.ts";

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
  --storage <path>         CSV file where bets are stored  (STORAGE_PATH, default ./bets.csv);
                           its commit journal is <path>.journal
  --read-timeout <d>       close a connection stalled inside a frame (READ_TIMEOUT, default 10s)
  --idle-timeout <d>       close a connection silent between frames (IDLE_TIMEOUT, default 60s)
  --max-connections <n>    connections served at once; more get BUSY
                           (MAX_CONNECTIONS, default ${DEFAULT_MAX_CONNECTIONS})
  --server-ip <name>       the name agencies reach this server at; logged only,
                           --host is where it listens (SERVER_IP, default server)
  --winners-delay <d>      wait this long after the draw's log line before sending
                           winners, so merged logs show it first (WINNERS_DELAY, default 0s)
  -h, --help               show this help

Precedence: flag > environment variable > config file > default.
At start the server recovers from the journal: it cuts rows that were never
acknowledged, and resumes each agency's batch sequence and the agencies done.
SIGTERM or SIGINT closes the listener, every connection and the storage, then exits 0.`;

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
        "read-timeout": { type: "string" },
        "idle-timeout": { type: "string" },
        "max-connections": { type: "string" },
        "server-ip": { type: "string" },
        "winners-delay": { type: "string" },
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
          readTimeout: values["read-timeout"],
          idleTimeout: values["idle-timeout"],
          maxConnections: values["max-connections"],
          serverIp: values["server-ip"],
          winnersDelay: values["winners-delay"],
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
    log.info({ action: "finished", result: "success", code: EXIT_OK });
    return EXIT_OK;
  });
}
