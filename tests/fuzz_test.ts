/**
 * Hostile input against one running server, while well-behaved agencies run:
 * random bytes, truncated and oversized frames, wrong versions and types,
 * frames in the wrong order, bad agency ids, gaps in batch ids, invalid bets.
 * Each case gets an error reply or a closed connection; the server never
 * crashes, never stores any of it, and the good agencies get exact winners.
 *
 * The cases come from a seeded generator: set FUZZ_SEED to replay a run.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type BetBatchMessage,
  type BetRowsMessage,
  encodeMessage,
  ErrorCode,
  MAGIC,
  type Message,
  MessageType,
  VERSION,
} from "../protocol/mod.ts";
import { type Bet, BetStore } from "../store/mod.ts";
import { spawnTp0, startLocalServer, type Tp0Process } from "../tools/processes.ts";
import {
  actions,
  type AgencyCsvOptions,
  expectedRows,
  records,
  storedRows,
  winnerDocuments,
  withTempDir,
  writeAgencies,
} from "./_helpers.ts";
import { concat, decodeAll, exchange, frames } from "./_wire.ts";
import { mulberry32 } from "../tools/random.ts";

/** Cases sent to the server (one connection each). */
const CASES = 10_000;
/** Connections open at once. */
const WORKERS = 24;
/** Agencies: 1-3 are good clients, 4 is done at once, 5 only ever sends invalid batches,
 * 6 stays not done until the end (so "winners before done" is always wrong for it). */
const AGENCIES = 6;
const GOOD: AgencyCsvOptions[] = [
  { agency: 1, bets: 2000, winnersAt: [5, 900, 1999] },
  { agency: 2, bets: 1500, winnersAt: [10] },
  { agency: 3, bets: 2500, winnersAt: [] },
];
/** Batch ids at least this high are never the next one of any agency here: always a gap. */
const FAR_ID = 1_000_000;

interface FuzzCase {
  kind: string;
  bytes: Uint8Array;
  /** Whether the server must reject it (an error reply or a close, and a `result: fail` line). */
  mustFail: boolean;
  /** What the replies must be, beyond the general rules. */
  check?: (replies: Message[]) => void;
}

class Generator {
  readonly random: () => number;
  /** Next batch id of agency 5 (every batch of it is invalid: each uses up its id). */
  nextInvalidId = 1;

  constructor(seed: number) {
    this.random = mulberry32(seed);
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }

  bytes(length: number): Uint8Array {
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; i++) bytes[i] = this.int(0, 255);
    return bytes;
  }

  bet(agency: number): Bet {
    return {
      agency,
      firstName: this.pick(["Ana", "José María", "Lucía", "O'Connor"]),
      lastName: this.pick(["Pérez", "Núñez", "D'Alessandro"]),
      document: String(this.int(1_000_000, 99_999_999)),
      birthdate: `19${this.int(50, 99)}-0${this.int(1, 9)}-1${this.int(0, 9)}`,
      number: this.int(0, 9999),
    };
  }

  /** A valid batch of `agency` with a batch id that is never the next one. */
  farBatch(agency: number): BetBatchMessage {
    const bets = Array.from({ length: this.int(1, 20) }, () => this.bet(agency));
    return { type: MessageType.BET_BATCH, agency, batchId: this.int(FAR_ID, 0xffffffff), bets };
  }

  /** A bet that `validateBet` rejects, in one of several ways. */
  invalidBet(agency: number): Bet {
    const bet = this.bet(agency);
    switch (this.int(0, 5)) {
      case 0:
        return { ...bet, birthdate: "1999-02-30" };
      case 1:
        return { ...bet, document: "12a45" };
      case 2:
        return { ...bet, firstName: "   " };
      case 3:
        return { ...bet, number: 100_000 + this.int(0, 1_000_000) };
      case 4:
        return { ...bet, birthdate: "2999-01-01" };
      default:
        return { ...bet, lastName: "Tab\there" };
    }
  }

  /** A frame with a header we choose, whatever the payload. */
  rawFrame(type: number, payload: Uint8Array, version = VERSION): Uint8Array {
    const frame = new Uint8Array(5 + payload.length);
    frame.set([MAGIC, version, type, payload.length >> 8, payload.length & 0xff]);
    frame.set(payload, 5);
    return frame;
  }

  /** A valid frame of one of the kinds a client sends (harmless by itself). */
  someValidFrame(): Uint8Array {
    switch (this.int(0, 3)) {
      case 0:
        return encodeMessage({ type: MessageType.ECHO, text: "hola ñandú" });
      case 1:
        return encodeMessage(this.farBatch(6));
      case 2:
        return encodeMessage({ type: MessageType.AGENCY_DONE, agency: 4 });
      default:
        return encodeMessage({ type: MessageType.WINNERS_QUERY, agency: 6 });
    }
  }

  /** One case of any kind but the invalid-bets one (see {@linkcode invalidBets}). */
  next(): FuzzCase {
    const kinds = [
      "random_bytes",
      "random_frame",
      "truncated",
      "oversized",
      "wrong_version",
      "unknown_type",
      "server_type",
      "bad_agency",
      "winners_before_done",
      "done_twice",
      "bets_after_done",
      "agency_changed",
      "batch_gap",
      "batch_id_zero",
      "mutated_batch",
      "empty_batch",
      "trailing_bytes",
      "bad_rows",
      "mutated_rows",
    ] as const;
    const kind = this.pick(kinds);
    switch (kind) {
      case "random_bytes": {
        // Mostly text (a first byte other than 0xB7): echoed when it is UTF-8, else refused.
        return { kind, bytes: this.bytes(this.int(1, 200)), mustFail: false };
      }
      case "random_frame": {
        let type = this.int(0, 255);
        let length = this.int(0, 300);
        // A 2-byte AGENCY_DONE or WINNERS_QUERY could name a real agency: never send one.
        if (
          (type === MessageType.AGENCY_DONE || type === MessageType.WINNERS_QUERY) && length === 2
        ) {
          length = 3;
        }
        if (type === MessageType.ECHO) type = 0x03;
        return { kind, bytes: this.rawFrame(type, this.bytes(length)), mustFail: true };
      }
      case "truncated": {
        const frame = this.someValidFrame();
        return { kind, bytes: frame.subarray(0, this.int(1, frame.length - 1)), mustFail: true };
      }
      case "oversized": {
        const length = this.int(8188, 65535);
        const header = new Uint8Array([MAGIC, VERSION, this.pick([0x10, 0x01, 0x12]), 0, 0]);
        header[3] = length >> 8;
        header[4] = length & 0xff;
        return {
          kind,
          bytes: concat(header, this.bytes(this.int(0, 1000))),
          mustFail: true,
          check: expectError(ErrorCode.MALFORMED),
        };
      }
      case "wrong_version": {
        const frame = this.someValidFrame().slice();
        frame[1] = this.pick([0, 3, 4, 0x7f, 0xff]);
        return {
          kind,
          bytes: frame,
          mustFail: true,
          check: expectError(ErrorCode.UNSUPPORTED_VERSION),
        };
      }
      case "unknown_type": {
        const known = new Set<number>(Object.values(MessageType));
        let type = this.int(0, 255);
        while (known.has(type)) type = this.int(0, 255);
        return {
          kind,
          bytes: this.rawFrame(type, this.bytes(this.int(0, 40))),
          mustFail: true,
          check: expectError(ErrorCode.UNKNOWN_TYPE),
        };
      }
      case "server_type": {
        const message: Message = this.pick<Message>([
          { type: MessageType.ECHO_REPLY, text: "x" },
          { type: MessageType.BATCH_RESULT, batchId: 1, code: 0, reason: "" },
          { type: MessageType.DONE_ACK, agency: 1 },
          { type: MessageType.WINNERS_REPLY, last: true, documents: ["123"] },
          { type: MessageType.ERROR, code: 1, reason: "no" },
        ]);
        return {
          kind,
          bytes: frames(message),
          mustFail: true,
          check: expectError(ErrorCode.OUT_OF_ORDER),
        };
      }
      case "bad_agency": {
        const agency = this.pick([0, AGENCIES + 1, this.int(AGENCIES + 1, 65535), 65535]);
        const message: Message = this.pick<Message>([
          { ...this.farBatch(1), agency, bets: [this.bet(agency)] },
          { type: MessageType.AGENCY_DONE, agency },
          { type: MessageType.WINNERS_QUERY, agency },
        ]);
        return {
          kind,
          bytes: frames(message),
          mustFail: true,
          check: expectError(ErrorCode.BAD_AGENCY),
        };
      }
      case "winners_before_done":
        return {
          kind,
          bytes: frames({ type: MessageType.WINNERS_QUERY, agency: 6 }),
          mustFail: true,
          check: expectError(ErrorCode.OUT_OF_ORDER),
        };
      case "done_twice":
        return {
          kind,
          bytes: frames(
            { type: MessageType.AGENCY_DONE, agency: 4 },
            { type: MessageType.AGENCY_DONE, agency: 4 },
          ),
          mustFail: true,
          check: (replies) => {
            assert.equal(replies[0]?.type, MessageType.DONE_ACK);
            expectError(ErrorCode.OUT_OF_ORDER)(replies);
          },
        };
      case "bets_after_done": {
        const batch = { ...this.farBatch(4), batchId: this.int(1, FAR_ID) };
        const sameConnection = this.random() < 0.5;
        return {
          kind,
          bytes: sameConnection
            ? frames({ type: MessageType.AGENCY_DONE, agency: 4 }, batch)
            : frames(batch),
          mustFail: true,
          check: expectError(ErrorCode.OUT_OF_ORDER),
        };
      }
      case "agency_changed":
        return {
          kind,
          bytes: frames(
            { type: MessageType.AGENCY_DONE, agency: 4 },
            this.farBatch(this.pick([1, 2, 3, 5, 6])),
          ),
          mustFail: true,
          check: (replies) => {
            assert.equal(replies[0]?.type, MessageType.DONE_ACK);
            expectError(ErrorCode.BAD_AGENCY)(replies);
          },
        };
      case "batch_gap": {
        // Agency 6 never stores batch 1, so any id >= 2 is a gap; the others get far ids.
        const agency = this.pick([1, 2, 3, 6]);
        const batch = agency === 6
          ? { ...this.farBatch(6), batchId: this.int(2, 50) }
          : this.farBatch(agency);
        return {
          kind,
          bytes: frames(batch),
          mustFail: true,
          check: expectError(ErrorCode.OUT_OF_ORDER),
        };
      }
      case "batch_id_zero":
        return {
          kind,
          bytes: frames({ ...this.farBatch(6), batchId: 0 }),
          mustFail: true,
          check: expectError(ErrorCode.OUT_OF_ORDER),
        };
      case "mutated_batch": {
        // Flip bytes after the agency and the batch id only: whatever it becomes, agency 6
        // with a far id is a gap (or worse), never stored.
        const frame = encodeMessage(this.farBatch(6)).slice();
        for (let flips = this.int(1, 4); flips > 0; flips--) {
          frame[this.int(11, frame.length - 1)] ^= 1 << this.int(0, 7);
        }
        return { kind, bytes: frame, mustFail: true };
      }
      case "empty_batch": {
        const payload = new Uint8Array(8);
        payload.set([0, 6, 0, 0xff, 0xff, 0xff, 0, 0]);
        return {
          kind,
          bytes: this.rawFrame(MessageType.BET_BATCH, payload),
          mustFail: true,
          check: expectError(ErrorCode.MALFORMED),
        };
      }
      case "trailing_bytes":
        return {
          kind,
          bytes: this.rawFrame(MessageType.AGENCY_DONE, new Uint8Array([0, 4, 0])),
          mustFail: true,
          check: expectError(ErrorCode.MALFORMED),
        };
      case "bad_rows": {
        // Agency 6's batch 1 with rows that do not parse: refused MALFORMED without using the
        // id (batch 1 of agency 6 stays unstored), then a good batch behind it is a gap.
        const bad = { ...this.rowsBatch(6), batchId: 1 };
        return {
          kind,
          bytes: concat(this.damagedRows(bad), frames({ ...this.rowsBatch(6), batchId: 2 })),
          mustFail: true,
          check: (replies) => {
            const first = replies[0];
            assert.ok(first?.type === MessageType.BATCH_RESULT, JSON.stringify(first));
            assert.deepEqual([first.batchId, first.code], [1, ErrorCode.MALFORMED]);
            expectError(ErrorCode.OUT_OF_ORDER)(replies);
          },
        };
      }
      case "mutated_rows": {
        // Flipped bits after the agency and the batch id: a far id of agency 6 is never stored.
        const frame = encodeMessage(this.rowsBatch(6)).slice();
        for (let flips = this.int(1, 4); flips > 0; flips--) {
          frame[this.int(11, frame.length - 1)] ^= 1 << this.int(0, 7);
        }
        return { kind, bytes: frame, mustFail: true };
      }
    }
  }

  /** {@linkcode farBatch} as BET_ROWS: the bets as agency-file rows. */
  rowsBatch(agency: number): BetRowsMessage {
    return { ...this.farBatch(agency), type: MessageType.BET_ROWS };
  }

  /** The frame of `batch` with its rows broken in one of several ways (the header kept). */
  damagedRows(batch: BetRowsMessage): Uint8Array {
    const frame = encodeMessage(batch);
    const rows = new TextDecoder().decode(frame.subarray(13)).split("\n");
    const at = this.int(0, batch.bets.length - 1);
    const damage = this.int(0, 4);
    if (damage === 0) rows[at] = rows[at].replace(",", ""); // a field short
    if (damage === 1) rows[at] += ",x"; // a field too many
    if (damage === 2) rows[at] = rows[at].replace(/,[^,]*$/, ",12a"); // not a number
    if (damage === 3) rows[at] = `"${rows[at]}`; // a quote never closed
    let body: Uint8Array = new TextEncoder().encode(rows.join("\n"));
    if (damage === 4) body = concat(body.subarray(0, 3), Uint8Array.of(0xff), body.subarray(3));
    const payload = concat(frame.subarray(5, 13), body);
    return this.rawFrame(MessageType.BET_ROWS, payload);
  }

  /**
   * Batches of agency 5 with the next id and an invalid bet: each is rejected
   * (INVALID_BET, its id used up, nothing stored); sometimes an old id is sent
   * again, which is answered as rejected too. These must go one at a time.
   */
  invalidBets(): FuzzCase {
    const batches: BetBatchMessage[] = [];
    const count = this.int(1, 3);
    for (let i = 0; i < count; i++) {
      const resend = this.nextInvalidId > 1 && this.random() < 0.2;
      const batchId = resend ? this.int(1, this.nextInvalidId - 1) : this.nextInvalidId++;
      const bets = Array.from({ length: this.int(1, 10) }, () => this.bet(5));
      bets[this.int(0, bets.length - 1)] = this.invalidBet(5);
      batches.push({ type: MessageType.BET_BATCH, agency: 5, batchId, bets });
    }
    return {
      kind: "invalid_bets",
      bytes: frames(...batches),
      mustFail: true,
      check: (replies) => {
        assert.deepEqual(
          replies.map((r) => r.type === MessageType.BATCH_RESULT && [r.batchId, r.code]),
          batches.map((b) => [b.batchId, ErrorCode.INVALID_BET]),
        );
      },
    };
  }
}

/** The last reply must be an ERROR with `code`, unless the server closed without one. */
function expectError(code: number): (replies: Message[]) => void {
  return (replies) => {
    const last = replies.at(-1);
    if (last === undefined) return; // closed (a reset may drop the frame): also a refusal
    assert.equal(last.type, MessageType.ERROR, JSON.stringify(last));
    if (last.type === MessageType.ERROR) assert.equal(last.code, code, last.reason);
  };
}

/**
 * Sends one case and checks what came back. Returns whether a binary case that must be
 * refused got no reply at all (a close without an ERROR frame: counted, see the test).
 */
async function run(port: number, fuzzCase: FuzzCase, seed: number): Promise<boolean> {
  const where = `case ${fuzzCase.kind} (seed ${seed})`;
  const result = await exchange(port, fuzzCase.bytes, { timeoutMs: 10_000 });
  assert.ok(result.closed, `${where}: the server did not close the connection`);
  if (fuzzCase.bytes[0] !== MAGIC) return false; // text: echoed lines, or a close
  let replies: Message[];
  try {
    replies = await decodeAll(result.received);
  } catch {
    // A reset can cut the last frame short: keep only whole frames.
    replies = await decodeAll(wholeFrames(result.received));
  }
  for (const reply of replies) {
    assert.ok(
      !(reply.type === MessageType.BATCH_RESULT && reply.code === ErrorCode.OK),
      `${where}: a hostile batch was acknowledged as stored`,
    );
    assert.notEqual(reply.type, MessageType.WINNERS_REPLY, `${where}: winners were sent`);
  }
  if (fuzzCase.mustFail) {
    const last = replies.at(-1);
    assert.ok(
      last === undefined || last.type === MessageType.ERROR ||
        (last.type === MessageType.BATCH_RESULT && last.code !== ErrorCode.OK),
      `${where}: no error reply: ${JSON.stringify(last)}`,
    );
  }
  try {
    fuzzCase.check?.(replies);
  } catch (error) {
    throw new Error(`${where}: ${(error as Error).message}`, { cause: error });
  }
  // A frame cut short by the end of the peer's stream is closed without a word (the peer
  // hung up inside a frame); any other refusal must say why.
  return fuzzCase.mustFail && fuzzCase.kind !== "truncated" && replies.length === 0;
}

/** The prefix of `bytes` made of whole frames. */
function wholeFrames(bytes: Uint8Array): Uint8Array {
  let end = 0;
  while (end + 5 <= bytes.length) {
    const length = (bytes[end + 3] << 8) | bytes[end + 4];
    if (end + 5 + length > bytes.length) break;
    end += 5 + length;
  }
  return bytes.subarray(0, end);
}

Deno.test({
  name:
    `${CASES} hostile inputs: each refused, nothing stored, the server lives on and good agencies get exact winners`,
  async fn() {
    const seed = Number(Deno.env.get("FUZZ_SEED") ?? Math.floor(Math.random() * 2 ** 31));
    await withTempDir(async (dir) => {
      const files = await writeAgencies(dir, GOOD);
      const storagePath = `${dir}/bets.csv`;
      const server = await startLocalServer({
        agencies: AGENCIES,
        storagePath,
        // A backlog for the WORKERS that connect at once: with the default of 5 the kernel
        // overflows the accept queue and, with SYN cookies, resets some connections before
        // the server ever sees them (a kernel drop, not a refusal under test here).
        args: [
          ...["--max-connections", "1000", "--listen-backlog", "128"],
          ...["--read-timeout", "5s", "--idle-timeout", "10s"],
        ],
      });
      const clients: Tp0Process[] = [];
      try {
        const { port } = server;
        // Agency 4 is done at once, with no bets.
        const done4 = await exchange(port, frames({ type: MessageType.AGENCY_DONE, agency: 4 }));
        assert.deepEqual(await decodeAll(done4.received), [
          { type: MessageType.DONE_ACK, agency: 4 },
        ]);
        // The good agencies run while the fuzz goes on; they then wait for the draw.
        for (const [i, file] of files.entries()) {
          clients.push(spawnTp0([
            "client",
            "--id",
            String(GOOD[i].agency),
            "--server-address",
            server.address,
            "--data",
            file,
            "--batch-max-amount",
            "10",
          ], { env: { CLI_LOG_LEVEL: "DEBUG" } }));
        }

        const generator = new Generator(seed);
        const sequential: FuzzCase[] = [];
        const concurrent: FuzzCase[] = [];
        for (let i = 0; i < CASES; i++) {
          if (i % 20 === 0) sequential.push(generator.invalidBets());
          else concurrent.push(generator.next());
        }
        let index = 0;
        let silent = 0;
        const worker = async () => {
          while (index < concurrent.length) {
            if (await run(port, concurrent[index++], seed)) silent++;
          }
        };
        const invalidWorker = async () => {
          for (const fuzzCase of sequential) if (await run(port, fuzzCase, seed)) silent++;
        };
        await Promise.all([invalidWorker(), ...Array.from({ length: WORKERS }, worker)]);

        const mustFail = [...sequential, ...concurrent].filter((c) => c.mustFail).length;
        // A refusal is an ERROR frame (or a failed BATCH_RESULT) before the close; a close
        // with nothing is tolerated only as the rare reset that destroys the frame in flight
        // (a server that refused in silence would fail nearly every case here).
        assert.ok(silent <= mustFail / 100, `${silent} of ${mustFail} refusals came with no reply`);
        const failLines = records(server.process.lines).filter((r) => r.result === "fail");
        assert.ok(
          failLines.length >= mustFail,
          `${failLines.length} "result: fail" lines for ${mustFail} refused cases (seed ${seed})`,
        );
        assert.equal(await exchangeIsAlive(port), true, "the server still answers");

        // Agencies 5 and 6 say they are done: the draw runs and the good agencies finish.
        for (const agency of [5, 6]) {
          const reply = await exchange(port, frames({ type: MessageType.AGENCY_DONE, agency }));
          assert.deepEqual(await decodeAll(reply.received), [
            { type: MessageType.DONE_ACK, agency },
          ]);
        }
        for (const [i, client] of clients.entries()) {
          const { code } = await client.waitForExit(60_000);
          assert.equal(code, 0, client.tail());
          const documents = actions(client.lines, "ganador").map((r) => r.fields.dni);
          assert.deepEqual(documents.sort(), winnerDocuments(GOOD[i]).sort());
        }
        server.process.kill("SIGTERM");
        assert.equal((await server.process.waitForExit(10_000)).code, 0);

        // The storage holds exactly the good agencies' bets, each once, and nothing else.
        const expected = expectedRows(GOOD);
        const rows = await storedRows(storagePath);
        assert.equal(rows.length, expected.length);
        assert.deepEqual(rows.sort(), expected.sort());
        await using store = await BetStore.open(storagePath);
        assert.equal(store.recovery.truncatedBytes, 0, "nothing half-written");
        assert.equal(store.recovery.bets, expected.length);
        assert.equal(
          store.recovery.lastBatch.get(5),
          generator.nextInvalidId - 1,
          "every invalid batch of agency 5 used up its id",
        );
        assert.equal(store.recovery.done.size, AGENCIES);
      } finally {
        for (const client of clients) client.kill("SIGKILL");
        server.process.kill("SIGKILL");
        await Promise.all([server.process.status, ...clients.map((c) => c.status)]);
      }
    });
  },
});

/** An ECHO round trip works. */
async function exchangeIsAlive(port: number): Promise<boolean> {
  const reply = await exchange(port, frames({ type: MessageType.ECHO, text: "¿vivo?" }));
  const messages = await decodeAll(reply.received);
  return messages.length === 1 && messages[0].type === MessageType.ECHO_REPLY &&
    messages[0].text === "¿vivo?";
}
