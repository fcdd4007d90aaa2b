/**
 * The ingest load generator: it speaks the tp0 protocol like the real client,
 * but pre-encodes every BET_ROWS frame (full 8 KiB frames of synthetic bets,
 * batch ids 1, 2, 3... per agency) before it connects, so that generating bets
 * costs nothing while it is timed. Each agency has its own connection with a
 * window of unacknowledged frames; every ack is awaited and checked (id in
 * order, code OK), so what is measured is durable ingest: the server acks a
 * batch only once it is written and fsync'd. It sends no AGENCY_DONE: only
 * ingest is timed. Traffic is on 127.0.0.1 only.
 *
 * @module
 */

import {
  BetRowsEncoder,
  ByteReader,
  MAX_BATCH_COUNT,
  MessageType,
  readFrame,
} from "../../protocol/mod.ts";
import { BATCH_WINDOW } from "../../roles/client/mod.ts";
import { type Bet, betToAgencyRow } from "../../store/mod.ts";
import { splitHostPort, writeAll } from "../../util/mod.ts";
import { cpuMs } from "./usage.ts";

/** What `ingest` prints, as one JSON line. */
export interface IngestResult {
  /** Bets acknowledged as stored. */
  bets: number;
  /** BET_ROWS frames sent. */
  frames: number;
  /** Bytes of those frames. */
  frameBytes: number;
  /** Agencies (connections). */
  agencies: number;
  /** From the first byte sent to the last ack received, in seconds. */
  seconds: number;
  /** Time spent encoding frames before the clock started, in seconds. */
  encodeSeconds: number;
  /** Acks that were not OK, or came out of order (must be 0). */
  failures: number;
  /** CPU time (user + system) this generator used while timed, in seconds (Linux; else NaN). */
  cpuSeconds: number;
}

/** Options of {@linkcode encodeAgencyFrames}. */
export interface EncodeFramesOptions {
  /** Agency of every bet. */
  agency: number;
  /** Bets to encode. */
  bets: number;
  /** Most bets a frame; frames are also cut at 8 KiB. @default as many as fit */
  batchMaxAmount?: number;
}

/** The frames of one agency, back to back in one buffer. */
export interface AgencyFrames {
  /** Every frame, contiguous. */
  bytes: Uint8Array;
  /** End offset of each frame in `bytes`. */
  ends: number[];
  /** Bets in all frames. */
  bets: number;
}

// deno-fmt-ignore
const FIRST_NAMES = [
  "Juan", "María José", "Sofía", "Martín", "Ana", "Nicolás", "Lucía", "Joaquín", "Inés", "Ramón",
];
// deno-fmt-ignore
const LAST_NAMES = [
  "González", "Rodríguez", "Pérez", "D'Alessandro", "Núñez", "Fernández Núñez", "Gómez", "Ibáñez",
];

/** A deterministic synthetic bet: the `index`-th of `agency`, valid, about 1 in 10,000 a winner. */
export function syntheticBet(agency: number, index: number): Bet {
  const day = 1 + (index % 28);
  const month = 1 + (index % 12);
  return {
    agency,
    firstName: FIRST_NAMES[index % FIRST_NAMES.length],
    lastName: LAST_NAMES[(index * 7) % LAST_NAMES.length],
    document: String(10_000_000 + ((agency * 7_919_111 + index) % 89_999_999)),
    birthdate: `${1940 + (index % 66)}-${month < 10 ? "0" : ""}${month}-${
      day < 10 ? "0" : ""
    }${day}`,
    number: (index * 7) % 10_000,
  };
}

/**
 * Encodes `options.bets` synthetic bets of one agency as BET_ROWS frames (the frames the
 * real client sends: each bet an agency-file row), batch ids 1, 2, 3...
 */
export function encodeAgencyFrames(options: EncodeFramesOptions): AgencyFrames {
  const { agency, bets: total } = options;
  const encoder = new BetRowsEncoder({
    agency,
    maxBets: Math.min(options.batchMaxAmount ?? MAX_BATCH_COUNT, MAX_BATCH_COUNT),
  });
  const text = new TextEncoder();
  const frames: Uint8Array[] = [];
  for (let i = 0; i < total; i++) {
    const row = text.encode(betToAgencyRow(syntheticBet(agency, i)));
    if (!encoder.add(row, 0, row.length)) {
      frames.push(encoder.take(frames.length + 1));
      encoder.add(row, 0, row.length);
    }
  }
  if (encoder.count > 0) frames.push(encoder.take(frames.length + 1));
  const length = frames.reduce((sum, frame) => sum + frame.length, 0);
  const bytes = new Uint8Array(length);
  const ends: number[] = [];
  let offset = 0;
  for (const frame of frames) {
    bytes.set(frame, offset);
    offset += frame.length;
    ends.push(offset);
  }
  return { bytes, ends, bets: total };
}

/** Options of {@linkcode runIngest}. */
export interface IngestOptions {
  /** Server address, `127.0.0.1:port`; several, comma-separated: agency i talks to the (i-1) mod n-th. */
  address: string;
  /** Agencies 1..agencies, one connection each. */
  agencies: number;
  /** Bets in all, split evenly among agencies. */
  bets: number;
  /** Frames each connection may have unacknowledged. @default the real client's window (64) */
  window?: number;
  /** Most bets a frame. @default as many as fit 8 KiB */
  batchMaxAmount?: number;
}

/** Sends every agency's frames over its own connection and waits for every ack. */
export async function runIngest(options: IngestOptions): Promise<IngestResult> {
  const window = options.window ?? BATCH_WINDOW;
  const encodeStart = performance.now();
  const perAgency: AgencyFrames[] = [];
  for (let agency = 1; agency <= options.agencies; agency++) {
    const bets = Math.floor(options.bets / options.agencies) +
      (agency <= options.bets % options.agencies ? 1 : 0);
    perAgency.push(encodeAgencyFrames({ agency, bets, batchMaxAmount: options.batchMaxAmount }));
  }
  const encodeSeconds = (performance.now() - encodeStart) / 1000;
  const addresses = options.address.split(",").map((address) => splitHostPort(address.trim()));
  const conns: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < perAgency.length; i++) {
      const { hostname, port } = addresses[i % addresses.length];
      const conn = await Deno.connect({ hostname, port, transport: "tcp" });
      conn.setNoDelay(true);
      conns.push(conn);
    }
    const cpuBefore = ownCpuSeconds();
    const started = performance.now();
    const failures = await Promise.all(
      perAgency.map((frames, i) => pump(conns[i], { frames, window })),
    );
    const seconds = (performance.now() - started) / 1000;
    const cpuSeconds = ownCpuSeconds() - cpuBefore;
    return {
      bets: perAgency.reduce((sum, frames) => sum + frames.bets, 0),
      frames: perAgency.reduce((sum, frames) => sum + frames.ends.length, 0),
      frameBytes: perAgency.reduce((sum, frames) => sum + frames.bytes.length, 0),
      agencies: options.agencies,
      seconds,
      encodeSeconds,
      failures: failures.reduce((sum, count) => sum + count, 0),
      cpuSeconds,
    };
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }
}

/** CPU time (user + system) of this process so far, in seconds; NaN where /proc is missing. */
function ownCpuSeconds(): number {
  return (cpuMs(Deno.pid) ?? Number.NaN) / 1000;
}

/** Writes frames as the window allows, in one write per opening, and counts bad acks. */
async function pump(
  conn: Deno.TcpConn,
  { frames, window }: { frames: AgencyFrames; window: number },
): Promise<number> {
  const { bytes, ends } = frames;
  const total = ends.length;
  let sent = 0;
  let acked = 0;
  let failures = 0;
  let wake: (() => void) | undefined;
  let readError: unknown;
  const reader = (async () => {
    const byteReader = new ByteReader(conn);
    while (acked < total) {
      const frame = await readFrame(byteReader);
      if (frame === null) throw new Error(`Server closed after ${acked} of ${total} acks`);
      const payload = frame.payload;
      if (frame.type !== MessageType.BATCH_RESULT || payload.length < 5) {
        throw new Error(`Unexpected frame type ${frame.type} after ${acked} acks`);
      }
      const batchId = payload[0] * 0x1000000 +
        ((payload[1] << 16) | (payload[2] << 8) | payload[3]);
      if (batchId !== acked + 1 || payload[4] !== 0) failures++;
      acked++;
      wake?.();
    }
  })().catch((error) => {
    readError = error;
    wake?.();
  });
  while (sent < total) {
    while (sent - acked >= window && readError === undefined) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    if (readError !== undefined) break;
    const last = Math.min(total, acked + window);
    await writeAll(conn, bytes.subarray(sent === 0 ? 0 : ends[sent - 1], ends[last - 1]));
    sent = last;
  }
  await reader;
  if (readError !== undefined) throw readError;
  return failures;
}
