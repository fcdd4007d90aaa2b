/**
 * How a connection ends on an error: its `connection` fail line, and for a
 * binary client refused for a reason it can be told (a protocol error, a
 * failed request), the ERROR frame after every earlier reply, then a bounded
 * linger so that the frame reaches the peer before the close.
 *
 * @module
 */

import {
  ConnectionClosedError,
  encodeMessage,
  errorCodeName,
  MessageType,
  ProtocolError,
} from "../../protocol/mod.ts";
import { describeError, writeAll } from "../../util/mod.ts";
import type { ServerConfig } from "../config/mod.ts";
import { log } from "../log.ts";
import { drainInput, LINGER_MS } from "./_socket.ts";
import { AuthFailed } from "./auth.ts";
import { RequestFailed } from "./errors.ts";
import type { Outbox } from "./outbox.ts";
import type { Watchdog } from "./watchdog.ts";

/** The connection that failed, as {@linkcode reportFailure} needs it. */
export interface FailedConnection {
  conn: Deno.TcpConn;
  /** The peer's IP address. */
  ip: string;
  /** The agency the connection spoke for, if it named one. */
  agency: number | undefined;
  /** Whether it speaks the binary protocol (a text client gets no ERROR frame). */
  binary: boolean;
  /** The watchdog's reason when it closed the connection: the failure then is that. */
  timedOut: string | undefined;
  /** Replies still queued: they go out before the ERROR frame. */
  outbox: Outbox;
  /** Bounds the wait for the queued replies and the linger. */
  watchdog: Watchdog;
  /** Timeouts. */
  config: Pick<ServerConfig, "readTimeoutMs" | "idleTimeoutMs">;
}

/** Logs why `connection` failed and, when the peer can be told, sends it ERROR and lingers. */
export async function reportFailure(error: unknown, connection: FailedConnection): Promise<void> {
  const { ip, agency } = connection;
  if (connection.timedOut !== undefined) {
    log.error({ action: "connection", result: "fail", ip, agency, reason: connection.timedOut });
    return;
  }
  if (error instanceof AuthFailed) {
    // One line for the refusal, with the agency claimed; never a key.
    const claimed = error.agency ?? agency;
    log.warning({ action: "auth", result: "fail", ip, agency: claimed, reason: error.logReason });
    if (connection.binary) await sayError(connection, error);
    return;
  }
  if (error instanceof ProtocolError || error instanceof RequestFailed) {
    const code = errorCodeName(error.code);
    log.error({ action: "connection", result: "fail", ip, agency, code, reason: error.message });
    if (connection.binary) await sayError(connection, error);
    return;
  }
  const reason = error instanceof ConnectionClosedError
    ? "connection closed in the middle of a frame"
    : describeError(error);
  log.error({ action: "connection", result: "fail", ip, agency, reason });
}

/** The last frame of a connection: ERROR after every queued reply, then a graceful close. */
async function sayError(
  connection: FailedConnection,
  error: ProtocolError | RequestFailed | AuthFailed,
): Promise<void> {
  const { conn, watchdog, config } = connection;
  try {
    watchdog.arm(config.idleTimeoutMs, "idle timeout");
    await connection.outbox.flush();
    const version = connection.outbox.version;
    await writeAll(
      conn,
      encodeMessage({ type: MessageType.ERROR, code: error.code, reason: error.message }, {
        version,
      }),
    );
    // Let the frame reach the peer: no reset for input it sent after the bad frame.
    watchdog.arm(Math.min(config.readTimeoutMs, LINGER_MS), "linger");
    await drainInput(conn);
  } catch {
    // The peer may be gone; closing is all that is left.
  }
}
