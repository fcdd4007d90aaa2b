/**
 * The generated system with keys (issue 13), in Docker: every agency authenticates with
 * its own mounted key and finishes; a container on the same network without a key that
 * tries to close agency 2 is refused, and the lottery completes as if it had not tried.
 */

import assert from "node:assert/strict";
import { agencyCsv } from "./_helpers.ts";
import { type ComposeLogLine, dockerTest, TEST_IMAGE, withSystem } from "./_docker.ts";

function actionsOf(lines: ComposeLogLine[], service: string, action: string) {
  return lines.filter((l) => l.service === service && l.record?.action === action)
    .map((l) => l.record!);
}

dockerTest(
  "auth: the generated system with keys completes; a keyless container closing agency 2 is refused",
  () =>
    withSystem(
      {
        name: "auth",
        agencies: 3,
        mode: "lottery",
        keys: true,
        data: [1, 2, 3].map((agency) => ({
          text: agencyCsv({ agency, bets: 3000, winnersAt: [agency] }),
        })),
      },
      async (system) => {
        await system.up();
        const intruder = await system.runExtra("intruder", [
          TEST_IMAGE,
          "client",
          "--id",
          "2",
          "--server-address",
          "server:12345",
          "--data",
          "/dev/null",
          "--connect-deadline",
          "10s",
        ]);
        const states = await system.waitExited(["client1", "client2", "client3"], 120_000);
        for (const [name, state] of states) assert.equal(state.exitCode, 0, name);
        const { dockerOk } = await import("./_docker.ts");
        await dockerOk(["wait", intruder], 60_000);
        const code = (await dockerOk(["inspect", "--format", "{{.State.ExitCode}}", intruder]))
          .trim();
        assert.equal(code, "1", "the intruder was not refused");
        const logs = await system.logs();
        const fails = actionsOf(logs, "server", "auth").filter((r) => r.result === "fail");
        assert.equal(fails.length, 1, JSON.stringify(fails));
        assert.equal(fails[0].fields.agency, "2");
        assert.match(fails[0].fields.reason, /key required/i);
        assert.equal(actionsOf(logs, "server", "agencia_finalizada").length, 3);
        assert.equal(actionsOf(logs, "server", "finalizacion_duplicada").length, 0);
        assert.equal(actionsOf(logs, "server", "sorteo").length, 1);
        for (const name of ["client1", "client2", "client3"]) {
          const auth = actionsOf(logs, name, "auth");
          assert.equal(auth.length, 1, name);
          assert.equal(auth[0].result, "success");
          const [winners] = actionsOf(logs, name, "consulta_ganadores");
          assert.equal(winners.fields.cant_ganadores, "1", name);
        }
        // No key in any log line; the server warned of nothing (mode 640, all keys present).
        const text = logs.map((l) => l.text).join("\n");
        assert.doesNotMatch(text, /[0-9a-f]{64}/);
        assert.equal(
          logs.filter((l) =>
            l.service === "server" && l.record?.level === "WARNING" &&
            l.record.action === "agency_keys"
          ).length,
          0,
        );
      },
    ),
);
