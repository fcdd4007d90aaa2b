/**
 * Socket chores of the server, private to it: closing without caring whether
 * it is closed already, and the graceful close that lets a last frame reach
 * the peer.
 *
 * @module
 */

/**
 * Longest wait, after a last ERROR frame, for the peer to stop sending before
 * the socket is closed: closing with unread input sends a reset, which can
 * destroy the ERROR frame before the peer reads it.
 */
export const LINGER_MS = 1000;

/** The peer's IP address. */
export function remoteIp(conn: Deno.TcpConn): string {
  return (conn.remoteAddr as Deno.NetAddr).hostname;
}

/**
 * Half-closes `conn` (our FIN after the last frame) and discards what the
 * peer still sends until it closes too; the caller bounds the wait (a timer
 * that closes the socket ends the read). So the close is graceful: no reset
 * that could destroy our last frame in the peer's receive buffer.
 */
export async function drainInput(conn: Deno.TcpConn): Promise<void> {
  try {
    await conn.closeWrite();
  } catch {
    return; // Already closed.
  }
  const scratch = new Uint8Array(4096);
  try {
    while (await conn.read(scratch) !== null) {
      // Discarded.
    }
  } catch {
    // Reset by the peer or closed by the caller's timer.
  }
}

/** Closes `conn`, which may be closed already. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
