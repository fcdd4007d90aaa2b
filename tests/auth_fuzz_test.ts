/**
 * A seeded fuzz pass over the handshake frames against a server with keys: thousands of
 * AUTH_HELLO / AUTH_PROOF sequences (random, mutated from a good one, truncated, out of
 * order, in the wrong version, with a lottery message after them), each on its own
 * connection. None may get AUTH_OK, none may change the lottery. Set FUZZ_SEED to replay.
 */

import assert from "node:assert/strict";
import {
  clientProof,
  decodeMessage,
  encodeMessage,
  ErrorCode,
  freshNonce,
  MessageType,
  readFrame,
  UNAUTHENTICATED_VERSION,
} from "../protocol/mod.ts";
import { startLocalServer } from "../tools/processes.ts";
import { actions, withTempDir } from "./_helpers.ts";
import { cryptoKey, writeKeys } from "./_keys.ts";
import { concat, decodeAll, exchange, HeldConnection } from "./_wire.ts";
import { mulberry32 } from "../tools/random.ts";

const CASES = 3000;
const INTERACTIVE = 300;
const WORKERS = 16;

Deno.test("fuzzed handshakes are all refused and change nothing", async () => {
  const seed = Number(Deno.env.get("FUZZ_SEED") ?? Date.now() % 1_000_000);
  const random = mulberry32(seed);
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(0, 255));
  await withTempDir(async (dir) => {
    const keys = await writeKeys(dir, 3);
    const key2 = await cryptoKey(keys.hex[1]);
    const { process: server, port } = await startLocalServer({
      agencies: 3,
      storagePath: `${dir}/bets.csv`,
      args: ["--agency-keys", keys.serverPath, "--auth-timeout", "2s"],
    });
    try {
      const lottery = () =>
        [
          encodeMessage({ type: MessageType.AGENCY_DONE, agency: int(0, 4) }),
          encodeMessage({ type: MessageType.WINNERS_QUERY, agency: int(0, 4) }),
        ][int(0, 1)];
      const hello = (agency = int(0, 5)) =>
        encodeMessage({ type: MessageType.AUTH_HELLO, agency, nonce: bytes(32) });
      const proof = () => encodeMessage({ type: MessageType.AUTH_PROOF, proof: bytes(32) });
      const kinds: (() => Uint8Array)[] = [
        () => concat(hello(), proof(), lottery()),
        () => concat(hello(2), proof(), lottery()),
        () => concat(proof(), lottery()),
        () => concat(encodeMessage({ type: MessageType.AUTH_OK, proof: bytes(32) }), lottery()),
        () => concat(encodeMessage({ type: MessageType.AUTH_CHALLENGE, nonce: bytes(32) })),
        () => concat(hello(), hello(), lottery()),
        () => concat(hello(2), lottery()),
        () => {
          const h = hello(2).slice();
          h[1] = UNAUTHENTICATED_VERSION;
          return concat(h, proof(), lottery());
        },
        () => {
          // Wrong lengths: the payload cut or padded.
          const h = hello(2);
          const n = int(0, 40);
          const frame = new Uint8Array(5 + n);
          frame.set(h.subarray(0, 3));
          frame[3] = n >> 8;
          frame[4] = n & 0xff;
          frame.set(h.subarray(5, 5 + Math.min(n, 34)), 5);
          return concat(frame, proof(), lottery());
        },
        () => {
          // A good-looking sequence with one random byte changed anywhere.
          const all = concat(hello(2), proof(), lottery()).slice();
          all[int(0, all.length - 1)] ^= int(1, 255);
          return all;
        },
        () => bytes(int(1, 120)).map((b, i) => (i === 0 ? 0xb7 : b)),
      ];
      let accepted = 0;
      let next = 0;
      const worker = async () => {
        while (next < CASES) {
          const kind = next++ % kinds.length;
          const result = await exchange(port, kinds[kind](), { timeoutMs: 5000 });
          const replies = await decodeAll(result.received).catch(() => []);
          if (
            replies.some((m) => m.type === MessageType.AUTH_OK || m.type === MessageType.DONE_ACK)
          ) {
            accepted++;
          }
          assert.ok(result.closed, `seed ${seed}: case kind ${kind} left open`);
        }
      };
      await Promise.all(Array.from({ length: WORKERS }, worker));
      // Interactive: a real challenge answered with a proof from a random key, a mutated
      // good proof, or the good proof of agency 2 for a claim of agency 1 or 3.
      for (let i = 0; i < INTERACTIVE; i++) {
        const held = await HeldConnection.open(port);
        try {
          const claimed = [1, 3][int(0, 1)];
          const clientNonce = freshNonce();
          await held.write(
            encodeMessage({ type: MessageType.AUTH_HELLO, agency: claimed, nonce: clientNonce }),
          );
          const challenge = decodeMessage((await readFrame(held.reader))!);
          assert.equal(challenge.type, MessageType.AUTH_CHALLENGE);
          if (challenge.type !== MessageType.AUTH_CHALLENGE) continue;
          let forged: Uint8Array;
          const mode = i % 3;
          if (mode === 0) {
            forged = await clientProof(
              await cryptoKey(
                Array.from(bytes(32), (b) => b.toString(16).padStart(2, "0")).join(""),
              ),
              { agency: claimed, clientNonce, serverNonce: challenge.nonce },
            );
          } else {
            forged = await clientProof(key2, {
              agency: mode === 1 ? claimed : 2,
              clientNonce,
              serverNonce: challenge.nonce,
            });
          }
          await held.write(encodeMessage({ type: MessageType.AUTH_PROOF, proof: forged }));
          const reply = await held.next(5000);
          assert.equal(reply?.type, MessageType.ERROR, `seed ${seed}: interactive ${i}`);
          if (reply?.type === MessageType.ERROR) {
            assert.equal(reply.code, ErrorCode.UNAUTHENTICATED);
          }
        } finally {
          await held.close();
        }
      }
      assert.equal(accepted, 0, `seed ${seed}: a fuzzed handshake was accepted`);
      for (
        const action of ["agencia_finalizada", "apuesta_recibida", "sorteo", "ganadores_enviados"]
      ) {
        assert.equal(actions(server.lines, action).length, 0, `seed ${seed}: ${action}`);
      }
      assert.equal(
        actions(server.lines, "auth").filter((r) => r.result === "success").length,
        0,
        `seed ${seed}`,
      );
    } finally {
      server.kill("SIGKILL");
      await server.status;
    }
  });
});
