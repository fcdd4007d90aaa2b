/**
 * Agencies prove who they are (issue 13): a server with keys refuses every lottery message
 * that does not follow a good handshake, logs one `action: auth | result: fail` line, and
 * changes nothing; the real agencies' results stay exact. Real processes on 127.0.0.1.
 */

import assert from "node:assert/strict";
import {
  clientProof,
  encodeMessage,
  ErrorCode,
  type Message,
  MessageType,
  UNAUTHENTICATED_VERSION,
} from "../protocol/mod.ts";
import { ROOT, spawnTp0, startLocalServer, type Tp0Process } from "../tools/processes.ts";
import {
  actions,
  records,
  storedRows,
  winnerDocuments,
  withTempDir,
  writeAgencies,
} from "./_helpers.ts";
import { cryptoKey, handshake, writeKeys } from "./_keys.ts";
import { HeldConnection } from "./_wire.ts";

const AGENCIES = [
  { agency: 1, bets: 100, winnersAt: [0, 99] },
  { agency: 2, bets: 100, winnersAt: [50] },
  { agency: 3, bets: 100 },
];

function agencyDone(agency: number, version?: number): Uint8Array {
  return encodeMessage({ type: MessageType.AGENCY_DONE, agency }, { version });
}

function expectRefused(reply: Message | null, what: string): void {
  assert.ok(reply !== null, `${what}: closed without an ERROR frame`);
  assert.equal(reply.type, MessageType.ERROR, `${what}: ${JSON.stringify(reply)}`);
  assert.equal(reply.code, ErrorCode.UNAUTHENTICATED, `${what}: ${reply.reason}`);
}

/** Sends `bytes` on a fresh connection: the server's answer, then it must close. */
async function sendRaw(port: number, bytes: Uint8Array): Promise<Message | null> {
  const held = await HeldConnection.open(port);
  try {
    await held.write(bytes);
    const reply = await held.next(5000);
    assert.ok(await held.isClosed(3000), "the server keeps a refused connection open");
    return reply;
  } finally {
    await held.close();
  }
}

function authFails(server: Tp0Process): ReturnType<typeof records> {
  return actions(server.lines, "auth").filter((r) => r.result === "fail");
}

function spawnAgency(address: string, agency: number, file: string, keyPath?: string): Tp0Process {
  const args = ["client", "--id", String(agency), "--server-address", address, "--data", file];
  if (keyPath !== undefined) args.push("--key", keyPath);
  args.push("--batch-max-amount", "30");
  return spawnTp0(args);
}

Deno.test("impostors are refused, logged, and change nothing; the agencies with keys get exact results", async () => {
  await withTempDir(async (dir) => {
    const files = await writeAgencies(dir, AGENCIES);
    const keys = await writeKeys(dir, 3);
    const storagePath = `${dir}/bets.csv`;
    const { process: server, port, address } = await startLocalServer({
      agencies: 3,
      storagePath,
      args: ["--agency-keys", keys.serverPath],
    });
    const clients: Tp0Process[] = [];
    try {
      const key2 = await cryptoKey(keys.hex[1]);
      const key3 = await cryptoKey(keys.hex[2]);
      const wrong = await cryptoKey("ab".repeat(32));
      // No handshake: version 1 (the course's client) and version 2.
      expectRefused(await sendRaw(port, agencyDone(2, UNAUTHENTICATED_VERSION)), "v1 AGENCY_DONE");
      expectRefused(await sendRaw(port, agencyDone(2)), "v2 AGENCY_DONE");
      const bet = {
        agency: 2,
        firstName: "Impostor",
        lastName: "Uno",
        document: "99999999",
        birthdate: "2000-01-01",
        number: 7574,
      };
      expectRefused(
        await sendRaw(
          port,
          encodeMessage({ type: MessageType.BET_BATCH, agency: 2, batchId: 1, bets: [bet] }),
        ),
        "BET_BATCH",
      );
      for (const version of [1, 2]) {
        expectRefused(
          await sendRaw(
            port,
            encodeMessage({ type: MessageType.BET_ROWS, agency: 2, batchId: 1, bets: [bet] }, {
              version,
            }),
          ),
          `v${version} BET_ROWS`,
        );
      }
      expectRefused(
        await sendRaw(port, encodeMessage({ type: MessageType.WINNERS_QUERY, agency: 2 })),
        "WINNERS_QUERY",
      );

      // A wrong key; agency 3's key claiming agency 2; a proof for another nonce.
      const attempts: [string, Parameters<typeof handshake>[1]][] = [
        ["wrong key", { agency: 2, key: wrong }],
        ["agency 3's key for agency 2", { agency: 2, key: key3 }],
        ["proof for another nonce", {
          agency: 2,
          key: key2,
          forge: (_server, clientNonce) =>
            clientProof(key2, { agency: 2, clientNonce, serverNonce: new Uint8Array(32) }),
        }],
      ];
      for (const [what, options] of attempts) {
        const held = await HeldConnection.open(port);
        try {
          const { reply } = await handshake(
            { write: (b) => held.write(b), reader: held.reader },
            options,
          );
          expectRefused(reply, what);
          assert.ok(await held.isClosed(3000), `${what}: left open`);
        } finally {
          await held.close();
        }
      }

      // A handshake replayed from a capture: the good handshake of agency 2, recorded,
      // then sent again byte for byte on a new connection with AGENCY_DONE after it.
      const captured = await HeldConnection.open(port);
      let sent: Uint8Array[];
      try {
        const good = await handshake(
          { write: (b) => captured.write(b), reader: captured.reader },
          { agency: 2, key: key2 },
        );
        assert.equal(good.reply?.type, MessageType.AUTH_OK);
        sent = good.sent;
      } finally {
        await captured.close();
      }
      const replay = await HeldConnection.open(port);
      try {
        await replay.write(sent[0]);
        assert.equal((await replay.next(5000))?.type, MessageType.AUTH_CHALLENGE);
        await replay.write(sent[1]);
        await replay.write(agencyDone(2));
        expectRefused(await replay.next(5000), "replayed handshake");
      } finally {
        await replay.close();
      }

      // 6 without a handshake, 3 bad proofs, 1 replay: one line each, with ip and agency.
      await server.waitForLine(() => authFails(server).length >= 10, 5000).catch(() => {});
      const fails = authFails(server);
      assert.equal(fails.length, 10, server.tail(30));
      for (const fail of fails) {
        assert.equal(fail.fields.ip, "127.0.0.1");
        assert.equal(fail.fields.agency, "2");
        assert.ok(fail.fields.reason.length > 0);
        for (const hex of keys.hex) assert.ok(!fail.fields.reason.includes(hex));
      }
      // Nothing changed: no bet, no agency done, no draw.
      for (const action of ["apuesta_recibida", "agencia_finalizada", "sorteo"]) {
        assert.equal(actions(server.lines, action).length, 0, `${action} after impostors`);
      }

      // The real agencies, each with its own key.
      files.forEach((file, i) =>
        clients.push(spawnAgency(address, i + 1, file, keys.clientPaths[i]))
      );
      const codes = await Promise.all(clients.map(async (c) => (await c.waitForExit(60_000)).code));
      assert.deepEqual(codes, [0, 0, 0], clients.map((c) => c.tail()).join("\n"));
      for (const [i, client] of clients.entries()) {
        const [winners] = actions(client.lines, "consulta_ganadores");
        assert.equal(Number(winners.fields.cant_ganadores), winnerDocuments(AGENCIES[i]).length);
        assert.equal(actions(client.lines, "auth").filter((r) => r.result === "success").length, 1);
      }
      const rows = await storedRows(storagePath);
      assert.equal(rows.length, 300);
      assert.ok(!rows.some((row) => row.includes("Impostor")));
      assert.equal(actions(server.lines, "agencia_finalizada").length, 3);
      assert.equal(actions(server.lines, "sorteo").length, 1);
      assert.equal(authFails(server).length, 10);
      // The keys never reach a log line.
      const everything = [...server.lines, ...clients.flatMap((c) => c.lines)].join("\n");
      for (const hex of keys.hex) assert.ok(!everything.includes(hex));
    } finally {
      for (const client of clients) client.kill("SIGKILL");
      server.kill("SIGKILL");
      await Promise.all([server.status, ...clients.map((c) => c.status)]);
    }
  });
});

Deno.test("a client without a key is told a key is needed (exit 1); a keyed client refuses a server without keys", async () => {
  await withTempDir(async (dir) => {
    const [file] = await writeAgencies(dir, [{ agency: 1, bets: 10 }]);
    const keys = await writeKeys(dir, 1);
    const keyed = await startLocalServer({
      agencies: 1,
      storagePath: `${dir}/a.csv`,
      args: ["--agency-keys", keys.serverPath],
    });
    const open = await startLocalServer({ agencies: 1, storagePath: `${dir}/b.csv` });
    try {
      const noKey = spawnAgency(keyed.address, 1, file);
      assert.equal((await noKey.waitForExit(30_000)).code, 1);
      const [fail] = actions(noKey.lines, "auth");
      assert.equal(fail?.result, "fail", noKey.tail());
      assert.match(fail.fields.reason, /key required/i);

      const withKey = spawnAgency(open.address, 1, file, keys.clientPaths[0]);
      assert.equal((await withKey.waitForExit(30_000)).code, 1);
      const [refused] = actions(withKey.lines, "auth");
      assert.equal(refused?.result, "fail", withKey.tail());
      assert.match(refused.fields.reason, /does not authenticate/);
      // The open server logged its WARNING at start; neither server stored anything.
      assert.ok(
        records(open.process.lines).some((r) =>
          r.action === "agency_keys" && r.level === "WARNING"
        ),
      );
      assert.equal(actions(keyed.process.lines, "apuesta_recibida").length, 0);
      assert.equal(actions(open.process.lines, "apuesta_recibida").length, 0);
    } finally {
      for (const s of [keyed, open]) s.process.kill("SIGKILL");
      await Promise.all([keyed.process.status, open.process.status]);
    }
  });
});

Deno.test("1,000 idle connections from one host never keep an agency out: each connects at its first attempt and finishes", async () => {
  await withTempDir(async (dir) => {
    const agencies = AGENCIES.map((a) => ({ ...a }));
    const files = await writeAgencies(dir, agencies);
    const keys = await writeKeys(dir, 3);
    const { process: server, port, address } = await startLocalServer({
      agencies: 3,
      storagePath: `${dir}/bets.csv`,
      // A backlog for the burst of 1,000 connects (with 5, the kernel drops SYNs: 1 s retries).
      args: ["--agency-keys", keys.serverPath, "--auth-timeout", "3s", "--listen-backlog", "1024"],
    });
    const idle: HeldConnection[] = [];
    const clients: Tp0Process[] = [];
    try {
      for (let i = 0; i < 1000; i++) idle.push(await HeldConnection.open(port));
      const started = performance.now();
      files.forEach((file, i) =>
        clients.push(spawnAgency(address, i + 1, file, keys.clientPaths[i]))
      );
      const codes = await Promise.all(clients.map(async (c) => (await c.waitForExit(60_000)).code));
      const elapsed = performance.now() - started;
      assert.deepEqual(codes, [0, 0, 0], clients.map((c) => c.tail()).join("\n"));
      for (const client of clients) {
        const [connected] = actions(client.lines, "connect").filter((r) => r.result === "success");
        assert.equal(connected.fields.attempts, "1");
        assert.equal(actions(client.lines, "reconnect").length, 0);
      }
      console.log(
        `1000 idle connections held: 3 agencies finished ${elapsed.toFixed(0)} ms after spawn`,
      );
      // The oldest idle ones were closed for the newcomers; the rest at AUTH_TIMEOUT.
      const evicted = authFails(server).filter((r) => r.fields.reason.includes("MAX_HANDSHAKES"));
      assert.ok(evicted.length >= 1000 - 128, `evicted ${evicted.length}`);
      await new Promise((resolve) => setTimeout(resolve, 3500));
      const closed = await Promise.all(idle.map((held) => held.isClosed(1000)));
      assert.equal(closed.filter((c) => !c).length, 0, "idle connections outlived AUTH_TIMEOUT");
    } finally {
      await Promise.all(idle.map((held) => held.close()));
      for (const client of clients) client.kill("SIGKILL");
      server.kill("SIGKILL");
      await Promise.all([server.status, ...clients.map((c) => c.status)]);
    }
  });
});

Deno.test("the shipped dataset with keys: the same results as without", async () => {
  await withTempDir(async (dir) => {
    const files = [1, 2, 3, 4, 5].map((i) => `${ROOT}.data/agency-${i}.csv`);
    const keys = await writeKeys(dir, 5);
    const results: { winners: number[]; rows: number; ms: number }[] = [];
    for (const keyed of [false, true]) {
      const storagePath = `${dir}/bets-${keyed}.csv`;
      const { process: server, address } = await startLocalServer({
        agencies: 5,
        storagePath,
        args: keyed ? ["--agency-keys", keys.serverPath] : [],
      });
      const clients: Tp0Process[] = [];
      try {
        const started = performance.now();
        files.forEach((file, i) =>
          clients.push(spawnTp0([
            "client",
            "--id",
            String(i + 1),
            "--server-address",
            address,
            "--data",
            file,
            ...(keyed ? ["--key", keys.clientPaths[i]] : []),
          ]))
        );
        const codes = await Promise.all(
          clients.map(async (c) => (await c.waitForExit(120_000)).code),
        );
        const ms = performance.now() - started;
        assert.deepEqual(codes, [0, 0, 0, 0, 0]);
        const winners = clients.map((c) =>
          Number(actions(c.lines, "consulta_ganadores")[0].fields.cant_ganadores)
        );
        results.push({ winners, rows: (await storedRows(storagePath)).length, ms });
      } finally {
        for (const client of clients) client.kill("SIGKILL");
        server.kill("SIGKILL");
        await Promise.all([server.status, ...clients.map((c) => c.status)]);
      }
    }
    assert.deepEqual(results[1].winners, results[0].winners);
    assert.equal(results[1].rows, results[0].rows);
    console.log(
      `shipped dataset: ${results[0].rows} bets, winners ${results[0].winners.join("/")}; ` +
        `without keys ${results[0].ms.toFixed(0)} ms, with keys ${results[1].ms.toFixed(0)} ms`,
    );
  });
});

async function serverExit(
  args: string[],
): Promise<{ code: number; stderr: string; lines: string[] }> {
  const server = spawnTp0(["server", "--host", "127.0.0.1", "--port", "0", ...args]);
  const { code } = await server.waitForExit(20_000);
  return { code, stderr: server.lines.join("\n"), lines: server.lines };
}

Deno.test("keys files: a malformed line, a duplicated agency, a missing file stop the server with exit 2 naming the line", async () => {
  await withTempDir(async (dir) => {
    const key = "0f".repeat(32);
    const cases: [string, string | undefined, RegExp][] = [
      ["malformed", `1:${key}\n2:${key.slice(2)}\n`, /Invalid agency key in .*malformed line 2/],
      ["agency", `x:${key}\n`, /line 1 \(expected <agency 1\.\.65535>:<64 hex digits>\)/],
      [
        "duplicated",
        `1:${key}\n# a comment\n\n1:${"1a".repeat(32)}\n`,
        /Duplicate agency 1 in .*duplicated line 4/,
      ],
      ["missing", undefined, /Cannot read AGENCY_KEYS_PATH .*missing: not found/],
    ];
    for (const [name, text, expected] of cases) {
      const path = `${dir}/${name}`;
      if (text !== undefined) await Deno.writeTextFile(path, text, { mode: 0o600 });
      const { code, stderr } = await serverExit([
        "--agency-keys",
        path,
        "--storage",
        `${dir}/b.csv`,
      ]);
      assert.equal(code, 2, `${name}: ${stderr}`);
      assert.match(stderr, expected);
      assert.ok(!stderr.includes(key), "a key in an error line");
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
    }
  });
});

Deno.test("a keys file every user may read starts with a WARNING; a client with a bad or missing key file exits 2", async () => {
  await withTempDir(async (dir) => {
    const keys = await writeKeys(dir, 1);
    await Deno.chmod(keys.serverPath, 0o644);
    const { process: server } = await startLocalServer({
      agencies: 2,
      storagePath: `${dir}/b.csv`,
      args: ["--agency-keys", keys.serverPath],
    });
    try {
      const warnings = records(server.lines).filter((r) =>
        r.action === "agency_keys" && r.level === "WARNING"
      );
      assert.equal(warnings.length, 2, server.tail());
      assert.match(warnings[0].fields.warning, /readable by every user/);
      assert.match(warnings[1].fields.warning, /no key for agency 2/);
    } finally {
      server.kill("SIGKILL");
      await server.status;
    }
    await Deno.writeTextFile(`${dir}/short.key`, "abc\n");
    for (
      const [path, expected] of [
        [`${dir}/short.key`, /Invalid agency key in .*short\.key \(expected 64 hex digits\)/],
        [`${dir}/none.key`, /Cannot read key\.path .*none\.key: not found/],
      ] as const
    ) {
      const client = spawnTp0([
        "client",
        "--id",
        "1",
        "--key",
        path,
        "--server-address",
        "127.0.0.1:1",
      ]);
      const { code } = await client.waitForExit(20_000);
      assert.equal(code, 2, client.tail());
      assert.match(client.lines.join("\n"), expected);
    }
  });
});
