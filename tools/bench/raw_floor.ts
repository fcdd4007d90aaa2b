/**
 * The raw floor: the same bytes pushed through one loopback TCP connection
 * into one file, fsync'd once. The sink prints its port, writes what it reads,
 * fsyncs at end of stream and answers one byte; the sender times it.
 *
 * @module
 */

import { splitHostPort, writeAll } from "../../util/mod.ts";

/** What `floor-send` prints, as one JSON line. */
export interface FloorResult {
  /** Bytes pushed. */
  bytes: number;
  /** From the first byte sent to the sink's answer after its fsync, in seconds. */
  seconds: number;
}

/** Listens on 127.0.0.1, prints `port N`, writes one connection's bytes into `out`, fsyncs, answers. */
export async function runFloorSink(out: string): Promise<void> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
  console.log(`port ${(listener.addr as Deno.NetAddr).port}`);
  const conn = await listener.accept();
  try {
    using file = await Deno.open(out, { write: true, create: true, truncate: true });
    const buffer = new Uint8Array(1 << 20);
    for (let count; (count = await conn.read(buffer)) !== null;) {
      await writeAll(file, buffer.subarray(0, count));
    }
    await file.syncData();
    await writeAll(conn, new Uint8Array([1]));
  } finally {
    conn.close();
  }
}

/** Connects, sends `file`'s bytes (read beforehand) in 1 MiB writes, waits for the sink's byte. */
export async function runFloorSend(
  options: { address: string; file: string },
): Promise<FloorResult> {
  const bytes = await Deno.readFile(options.file);
  const { hostname, port } = splitHostPort(options.address);
  const conn = await Deno.connect({ hostname, port, transport: "tcp" });
  try {
    const started = performance.now();
    for (let offset = 0; offset < bytes.length; offset += 1 << 20) {
      await writeAll(conn, bytes.subarray(offset, Math.min(bytes.length, offset + (1 << 20))));
    }
    await conn.closeWrite();
    const answer = new Uint8Array(1);
    if ((await conn.read(answer)) !== 1) throw new Error("Floor sink closed without answering");
    return { bytes: bytes.length, seconds: (performance.now() - started) / 1000 };
  } finally {
    conn.close();
  }
}
