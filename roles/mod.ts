/**
 * The roles of the tp0 program, one per subcommand. Each `run*` takes the
 * arguments after the subcommand's name and resolves with the exit code.
 *
 * @module
 */

export { runAgency, runClient } from "./client.ts";
export { runServer, type ServerHandle, startServer } from "./server/mod.ts";
export { runValidateEcho } from "./validate_echo.ts";
export { runGenCompose } from "../compose/mod.ts";
