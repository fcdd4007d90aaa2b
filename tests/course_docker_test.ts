/**
 * The course's grading flow in Docker, literally: its script names
 * (`bash generar-compose.sh`, `sh validar-echo-server.sh`), its config files
 * in its layout (`server/config.ini`, `client/config.yaml`), `docker compose
 * up -d`, `docker compose logs -f` read line by line by a parser that splits
 * on `|` and `:` as the graders' does, `stop`, `down` without `--volumes`,
 * and `up` again.
 *
 * The Compose file the script writes is isolated before use (project name,
 * container-name prefix, free subnet: {@linkcode TestSystem.adopt}) so that it
 * collides neither with a system the user has up nor with another test run.
 *
 * `TP0_COURSE_RUNS=20 deno test -A tests/course_docker_test.ts` repeats the
 * draw scenarios (the causal-order measurement of docs/docker.md, "The causal
 * order of merged logs"); the default is one run each.
 */

import assert from "node:assert/strict";
import { ROOT, runProgram } from "../tools/processes.ts";
import { agencyCsv, type AgencyCsvOptions, expectedRows } from "./_helpers.ts";
import {
  dockerOk,
  dockerTest,
  type GraderLine,
  type LogFollower,
  TEST_IMAGE,
  testImage,
  TestSystem,
} from "./_docker.ts";

/** How many times each draw scenario runs (`TP0_COURSE_RUNS`). */
const RUNS = Math.max(1, Number(Deno.env.get("TP0_COURSE_RUNS") ?? "1") || 1);

/** The course's base `server/config.ini`, byte for byte. */
const COURSE_SERVER_INI =
  "[DEFAULT]\nserver_port = 12345\nserver_ip = server\nserver_listen_backlog = 5\nlogging_level=INFO\n";

/** The course's base `client/config.yaml`, with the batch size of exercise 6. */
const COURSE_CLIENT_YAML =
  'server:\n  address: "server:12345"\nloop:\n  amount: 5\n  period: "5s"\n' +
  'log:\n  level: "info"\nbatch:\n  maxAmount: 100\n';

/** An agency file as the course's graders write one: `Name,Surname,00000000,2000-01-01,<n>`. */
function graderCsv(bets: number, winners: number): string {
  const lines: string[] = [];
  for (let i = 0; i < bets; i++) {
    const number = i < winners ? 7574 : (i * 13) % 7000;
    lines.push(`Name,Surname,00000000,2000-01-01,${number}\n`);
  }
  return lines.join("");
}

/** A folder laid out like the course's repository, for `generar-compose.sh` to run in. */
async function courseFolder(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "tp0test-course-" });
  await Deno.chmod(dir, 0o755);
  for (const sub of ["server", "client", ".data"]) await Deno.mkdir(`${dir}/${sub}`);
  await Deno.writeTextFile(`${dir}/server/config.ini`, COURSE_SERVER_INI);
  await Deno.writeTextFile(`${dir}/client/config.yaml`, COURSE_CLIENT_YAML);
  return dir;
}

/** Runs a root script of the repository (`bash generar-compose.sh ...`) in `cwd`. */
function script(
  shell: string,
  name: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runProgram(shell, [`${ROOT}${name}`, ...args], { ...options, timeoutMs: 300_000 });
}

/** `bash generar-compose.sh docker-compose-dev.yaml N ...` in `dir`, then the system it wrote. */
async function generated(name: string, dir: string, args: string[]): Promise<TestSystem> {
  await testImage();
  const out = await script("bash", "generar-compose.sh", [
    "docker-compose-dev.yaml",
    ...args,
    "--server-config",
    "server/config.ini",
    "--client-config",
    "client/config.yaml",
    "--image",
    TEST_IMAGE,
  ], { cwd: dir });
  assert.equal(out.code, 0, out.stderr + out.stdout);
  return await TestSystem.adopt(name, dir, `${dir}/docker-compose-dev.yaml`);
}

/** Runs `fn` on a system from {@linkcode generated}; removes it (and `dir`) whatever happens. */
async function withCourseSystem(
  name: string,
  args: string[],
  fn: (system: TestSystem) => Promise<void>,
): Promise<void> {
  const dir = await courseFolder();
  let system: TestSystem;
  try {
    system = await generated(name, dir, args);
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  let failure: unknown;
  try {
    await fn(system);
  } catch (error) {
    failure = error;
  }
  try {
    await system.remove();
  } catch (cleanup) {
    if (failure === undefined) throw cleanup;
    console.error(`docker tests: ${cleanup instanceof Error ? cleanup.message : cleanup}`);
  }
  if (failure !== undefined) throw failure;
}

/** The service a grader line comes from (container names carry the test's prefix). */
function serviceOf(system: TestSystem, line: GraderLine): string {
  const prefix = `${system.project}-`;
  return line.source.startsWith(prefix) ? line.source.slice(prefix.length) : line.source;
}

/** `docker compose up -d`, then `logs -f` read until every client has exited. */
async function upAndFollow(system: TestSystem, clients: string[]): Promise<GraderLine[]> {
  const up = await system.compose(["up", "-d"], 180_000);
  assert.equal(up.code, 0, up.stderr);
  const follower: LogFollower = system.follow();
  try {
    // The graders stop reading at the N-th `<container> exited with code` line.
    await follower.waitFor(
      (lines) => {
        const exited = new Set(
          lines.filter((l) => l.fields.action === "exit").map((l) => serviceOf(system, l)),
        );
        return clients.every((client) => exited.has(client));
      },
      180_000,
    );
  } finally {
    await follower.stop();
  }
  return follower.parsed();
}

/** `docker compose stop`, then `down` without `--volumes`, as the course's Makefile does. */
async function stopAndDown(system: TestSystem): Promise<void> {
  for (const args of [["stop", "-t", "5"], ["down"]]) {
    const result = await system.compose(args, 120_000);
    assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
  }
}

/** Checks the rules the graders assert over one run's merged stream; returns the winners. */
function checkRun(
  system: TestSystem,
  lines: GraderLine[],
  expected: { bets: number; winners: number[] },
): void {
  const clients = expected.winners.map((_, i) => `client${i + 1}`);
  const of = (service: string, action: string) =>
    lines.map((line, index) => ({ line, index }))
      .filter(({ line }) => serviceOf(system, line) === service && line.fields.action === action);
  // No tp0 line uses the action the graders give Compose's exit lines.
  assert.deepEqual(
    lines.filter((l) => l.fields.action === "exit" && l.raw.includes("action:")).map((l) => l.raw),
    [],
  );
  const received = of("server", "apuesta_recibida");
  assert.ok(received.every(({ line }) => line.fields.result === "success"));
  const total = received.reduce((sum, { line }) => sum + Number(line.fields.cantidad), 0);
  assert.equal(total, expected.bets, "apuesta_recibida sums to this run's bets");
  const draws = of("server", "sorteo");
  assert.equal(draws.length, 1, "one sorteo");
  const draw = draws[0].index;
  const late = received.filter(({ index }) => index > draw);
  assert.deepEqual(late.map(({ line }) => line.raw), [], "every apuesta_recibida before sorteo");
  for (const [i, client] of clients.entries()) {
    const answers = of(client, "consulta_ganadores");
    assert.equal(answers.length, 1, `${client}: one consulta_ganadores`);
    const { line, index } = answers[0];
    assert.equal(line.fields.result, "success");
    assert.ok(index > draw, `${client}'s consulta_ganadores comes after the sorteo:\n${line.raw}`);
    assert.equal(Number(line.fields.cant_ganadores), expected.winners[i], `${client} winners`);
    const exit = of(client, "exit");
    assert.equal(exit.at(-1)?.line.fields.code, "0", `${client} exited with code 0`);
  }
}

/** One draw scenario: the agencies' files, then the course's flow; `RUNS` times. */
async function drawScenario(
  system: TestSystem,
  runs: { bets: number[]; winners: number[] }[],
): Promise<void> {
  for (const [index, run] of runs.entries()) {
    for (const [i, bets] of run.bets.entries()) {
      await Deno.writeTextFile(
        `${system.dir}/.data/agency-${i + 1}.csv`,
        graderCsv(bets, run.winners[i]),
      );
    }
    const clients = run.bets.map((_, i) => `client${i + 1}`);
    const lines = await upAndFollow(system, clients);
    try {
      checkRun(system, lines, {
        bets: run.bets.reduce((a, b) => a + b, 0),
        winners: run.winners,
      });
    } catch (error) {
      console.error(`docker tests: run ${index + 1} of ${runs.length}; merged stream:`);
      console.error(lines.map((l) => l.raw).join("\n"));
      throw error;
    }
    await stopAndDown(system);
  }
}

dockerTest(
  "course flow, 3 agencies: generar-compose.sh, up -d, logs -f, stop, down (no --volumes), then a second up gives its own counts and winners",
  () =>
    withCourseSystem("course3", ["3"], async (system) => {
      const first = { bets: [100, 100, 100], winners: [2, 1, 0] };
      const second = { bets: [150, 80, 120], winners: [0, 3, 1] };
      const runs = [];
      for (let i = 0; i < RUNS; i++) runs.push(i % 2 === 0 ? first : second);
      if (RUNS === 1) runs.push(second);
      await drawScenario(system, runs);
    }),
);

dockerTest(
  "course flow, 5 agencies: every apuesta_recibida before the sorteo, every consulta_ganadores after it in logs -f",
  () =>
    withCourseSystem("course5", ["5"], async (system) => {
      const run = { bets: [60, 60, 60, 60, 60], winners: [1, 2, 3, 4, 5] };
      await drawScenario(system, Array.from({ length: RUNS }, () => run));
    }),
);

dockerTest(
  "course flow, --mode bet: one apuesta_enviada and one apuesta_almacenada with the same dni",
  () =>
    withCourseSystem("coursebet", ["1", "--mode", "bet"], async (system) => {
      const lines = await upAndFollow(system, ["client1"]);
      const sent = lines.filter((l) =>
        serviceOf(system, l) === "client1" && l.fields.action === "apuesta_enviada"
      );
      const stored = lines.filter((l) =>
        serviceOf(system, l) === "server" && l.fields.action === "apuesta_almacenada"
      );
      assert.equal(sent.length, 1, lines.map((l) => l.raw).join("\n"));
      assert.equal(stored.length, 1, lines.map((l) => l.raw).join("\n"));
      assert.equal(sent[0].fields.result, "success");
      assert.equal(sent[0].fields.dni, "30904465");
      assert.equal(sent[0].fields.numero, "7574");
      assert.equal(stored[0].fields.dni, "30904465");
      assert.equal(stored[0].fields.numero, "7574");
      await stopAndDown(system);
    }),
);

dockerTest(
  "course flow: validar-echo-server.sh prints exactly the course's line, success then fail",
  () =>
    withCourseSystem("courseecho", ["1", "--mode", "echo"], async (system) => {
      const up = await system.compose(["up", "-d"], 180_000);
      assert.equal(up.code, 0, up.stderr);
      const env = { TP0_SERVER: system.container("server"), TP0_IMAGE: TEST_IMAGE };
      const ok = await script("sh", "validar-echo-server.sh", [], { cwd: system.dir, env });
      assert.equal(ok.stdout, "action: test_echo_server | result: success\n", ok.stderr);
      assert.equal(ok.code, 0);
      await dockerOk(["stop", "-t", "5", system.container("server")]);
      const down = await script("sh", "validar-echo-server.sh", ["--timeout", "2s"], {
        cwd: system.dir,
        env: { TP0_NETWORK: system.network, TP0_IMAGE: TEST_IMAGE },
      });
      assert.equal(down.stdout, "action: test_echo_server | result: fail\n");
      assert.equal(down.code, 1);
      assert.match(down.stderr, /^validar-echo-server\.sh: .+/);
    }),
);

dockerTest(
  "crash inside one container's life: docker kill -s KILL of the server mid-ingest, docker start, every agency finishes, rows exact",
  () =>
    withCourseSystem("coursecrash", ["3"], async (system) => {
      // Small batches: many group commits, so ingest outlasts the kill by far.
      const yaml = COURSE_CLIENT_YAML.replace("maxAmount: 100", "maxAmount: 20");
      await Deno.writeTextFile(`${system.dir}/client/config.yaml`, yaml);
      const agencies: AgencyCsvOptions[] = [1, 2, 3].map((agency) => ({
        agency,
        bets: 60_000,
        winnersAt: [agency, 1000 + agency],
      }));
      for (const options of agencies) {
        await Deno.writeTextFile(
          `${system.dir}/.data/agency-${options.agency}.csv`,
          agencyCsv(options),
        );
      }
      const up = await system.compose(["up", "-d"], 180_000);
      assert.equal(up.code, 0, up.stderr);
      const follower = system.follow();
      const server = system.container("server");
      let doneAtKill: number;
      try {
        await follower.waitFor(
          (lines) => lines.some((l) => l.fields.action === "apuesta_recibida"),
          120_000,
        );
        await dockerOk(["kill", "--signal", "KILL", server]);
        doneAtKill = follower.parsed().filter((l) => l.fields.action === "agencia_finalizada")
          .length;
        await dockerOk(["start", server]);
        await follower.waitFor(
          (lines) =>
            ["client1", "client2", "client3"].every((client) =>
              lines.some((l) => serviceOf(system, l) === client && l.fields.action === "exit")
            ),
          180_000,
        );
      } finally {
        await follower.stop();
      }
      assert.ok(doneAtKill < 3, "the kill came before every agency was done");
      const states = await Promise.all(
        ["client1", "client2", "client3"].map((service) => system.state(service)),
      );
      assert.deepEqual(states.map((state) => state.exitCode), [0, 0, 0]);
      const lines = follower.parsed();
      const recovered = lines.filter((l) =>
        serviceOf(system, l) === "server" && l.fields.action === "recovery"
      );
      assert.equal(recovered.length, 2, "the server started twice: once new, once recovering");
      const rows = (await system.copyOut("server", "/data/bets.csv"))
        .split("\n").filter((line) => line !== "");
      const expected = expectedRows(agencies);
      assert.equal(rows.length, expected.length, "every bet stored once");
      assert.deepEqual(rows.sort(), expected.sort());
      for (const [i, client] of ["client1", "client2", "client3"].entries()) {
        const answer = lines.find((l) =>
          serviceOf(system, l) === client && l.fields.action === "consulta_ganadores"
        );
        assert.equal(answer?.fields.cant_ganadores, "2", `${client} (agency ${i + 1})`);
      }
    }),
);
