/**
 * The server role: the "central de Lotería Nacional". {@linkcode runServer}
 * is `tp0 server`; {@linkcode startServer} runs one in this process (tests).
 *
 * @module
 */

export { runServer } from "./main.ts";
export { type ServerHandle, startServer, type StartServerOptions } from "./server.ts";
