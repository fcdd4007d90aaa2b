/**
 * tp0: the lottery of FIUBA 75.74's TP0 as one program. The first argument
 * names the role; everything after it belongs to that role.
 *
 *     tp0 server --config config/server.ini
 *     tp0 client --id 3
 *     tp0 gen-compose docker-compose-dev.yaml 5
 *     tp0 validate-echo --address server:12345
 *
 * @module
 */

import denoJson from "./deno.json" with { type: "json" };
import { closest, EXIT_OK, EXIT_USAGE, printErr, printOut } from "./util/mod.ts";
import { holdShutdownSignals } from "./roles/shutdown.ts";

/** The program's version, from deno.json. */
export const VERSION: string = denoJson.version;

const USAGE = `Usage: tp0 <command> [options]

The "Lotería Nacional" of FIUBA 75.74 TP0: a server that receives bets from
agencies over TCP, and the agencies that send them.

Commands:
  server          run the lottery (and echo) server
  client          run one agency (lottery mode) or an echo client
  gen-compose     write a Docker Compose file for a server and N clients
  validate-echo   check that a server echoes a line back, like netcat would

Options:
  -h, --help      show this help (tp0 <command> --help for a command's options)
  -V, --version   print the version

Examples:
  tp0 server --config config/server.ini
  tp0 client --id 3 --server-address 127.0.0.1:12345
  tp0 gen-compose docker-compose-dev.yaml 5 --mode echo
  tp0 validate-echo --address server:12345`;

// Each role is imported when it runs: a process loads only its own modules (the
// server never loads the client's YAML parser, nor the client the Compose writer).
// The long-running roles hold SIGTERM/SIGINT while they load: a stop then still ends
// them gracefully, once they listen. Each role is entered through its face
// (roles/server/mod.ts, roles/client/mod.ts); roles/ itself has none, so that main.ts
// loads only shutdown.ts of what the roles share (log.ts, shutdown.ts, validate_echo.ts).
const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  // `return await`: the hold must last until the role returns. With a bare `return` it was
  // released at the role's first await (reading its config), before the role listened, and
  // a signal in between was swallowed (Deno keeps catching a signal once it was listened
  // for): a client stopped then kept retrying for its whole connect deadline.
  server: async (args) => {
    using _held = holdShutdownSignals();
    return await (await import("./roles/server/mod.ts")).runServer(args);
  },
  client: async (args) => {
    using _held = holdShutdownSignals();
    return await (await import("./roles/client/mod.ts")).runClient(args);
  },
  "gen-compose": async (args) => (await import("./compose/mod.ts")).runGenCompose(args),
  "validate-echo": async (args) => (await import("./roles/validate_echo.ts")).runValidateEcho(args),
};

/** Runs the command line `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined) {
    printUsageError("missing command");
    return EXIT_USAGE;
  }
  if (command === "-h" || command === "--help" || command === "help") {
    printOut(USAGE);
    return EXIT_OK;
  }
  if (command === "-V" || command === "--version" || command === "version") {
    printOut(`tp0 ${VERSION}`);
    return EXIT_OK;
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (run === undefined) {
    const reason = command.startsWith("-")
      ? `Unknown option '${command}'`
      : `Unknown command '${command}'${suggest(command)}`;
    printUsageError(reason);
    return EXIT_USAGE;
  }
  return await run(rest);
}

function printUsageError(reason: string): void {
  printErr(`tp0: ${reason}\n\n${USAGE}`);
}

/** ` (did you mean 'server'?)` for a near miss, or nothing. */
function suggest(word: string): string {
  const best = closest(word, Object.keys(COMMANDS), { maxDistance: 2 });
  return best === undefined ? "" : ` (did you mean '${best}'?)`;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
