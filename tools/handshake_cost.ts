/**
 * What the handshake costs a connection: against a local server with keys, N connections
 * that each connect, authenticate and send one ECHO, against N that only connect and send
 * one ECHO; prints the medians and their difference, and the HMAC work alone. A figure
 * printer, not a test: `deno run -A tools/handshake_cost.ts [N]`.
 *
 * @module
 */

import {
  ByteReader,
  clientProof,
  decodeMessage,
  encodeMessage,
  freshNonce,
  MessageType,
  readFrame,
  verifyClientProof,
  writeAll,
} from "../protocol/mod.ts";
import { cryptoKey, writeKeys } from "./agency_keys.ts";
import { startLocalServer } from "./processes.ts";

const rounds = Number(Deno.args[0] ?? 500);
const dir = await Deno.makeTempDir({ prefix: "tp0-handshake-" });
const keys = await writeKeys(dir, 1);
const key = await cryptoKey(keys.hex[0]);
const { process: server, port } = await startLocalServer({
  agencies: 1,
  storagePath: `${dir}/bets.csv`,
  args: ["--agency-keys", keys.serverPath],
});

async function once(authenticate: boolean): Promise<number> {
  const started = performance.now();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const reader = new ByteReader(conn);
    if (authenticate) {
      const clientNonce = freshNonce();
      await writeAll(
        conn,
        encodeMessage({ type: MessageType.AUTH_HELLO, agency: 1, nonce: clientNonce }),
      );
      const challenge = decodeMessage((await readFrame(reader))!);
      if (challenge.type !== MessageType.AUTH_CHALLENGE) throw new Error("no challenge");
      const nonces = { agency: 1, clientNonce, serverNonce: challenge.nonce };
      await writeAll(
        conn,
        encodeMessage({ type: MessageType.AUTH_PROOF, proof: await clientProof(key, nonces) }),
      );
      if (decodeMessage((await readFrame(reader))!).type !== MessageType.AUTH_OK) {
        throw new Error("no AUTH_OK");
      }
    }
    await writeAll(conn, encodeMessage({ type: MessageType.ECHO, text: "x" }));
    await readFrame(reader);
    return performance.now() - started;
  } finally {
    conn.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

try {
  const plain: number[] = [];
  const keyed: number[] = [];
  for (let i = 0; i < 50; i++) await once(i % 2 === 0); // warm-up
  for (let i = 0; i < rounds; i++) {
    plain.push(await once(false));
    keyed.push(await once(true));
  }
  const hmac: number[] = [];
  const nonces = { agency: 1, clientNonce: freshNonce(), serverNonce: freshNonce() };
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    const proof = await clientProof(key, nonces);
    await verifyClientProof(key, proof, nonces);
    hmac.push(performance.now() - started);
  }
  const [p, k] = [median(plain), median(keyed)];
  console.log(`connections: ${rounds} each (medians)`);
  console.log(`connect + ECHO:                    ${p.toFixed(3)} ms`);
  console.log(`connect + handshake + ECHO:        ${k.toFixed(3)} ms`);
  console.log(`the handshake:                     ${(k - p).toFixed(3)} ms a connection`);
  console.log(`HMAC sign + verify (one side):     ${(median(hmac) * 1000).toFixed(1)} µs`);
} finally {
  server.kill("SIGKILL");
  await server.status;
  await Deno.remove(dir, { recursive: true });
}
