import assert from "node:assert/strict";
import { hasWon, readAgencyBets, validateBet } from "../store/mod.ts";
import { type DatasetSummary, generateDataset } from "./gen_data.ts";
import { type DenoOutput, runDeno } from "./processes.ts";
import { withTempDir } from "../tests/_helpers.ts";

const SCRIPT = new URL(import.meta.resolve("./gen_data.ts")).pathname;

function run(args: string[]): Promise<DenoOutput> {
  return runDeno(["run", "--quiet", "--allow-read", "--allow-write", SCRIPT, ...args]);
}

Deno.test("generateDataset() writes the same bytes for the same seed, others for another", async () => {
  await withTempDir(async (dir) => {
    for (const [name, seed] of [["a", 42], ["b", 42], ["c", 43]] as const) {
      await generateDataset({ out: `${dir}/${name}`, agencies: 3, bets: 3000, seed });
    }
    for (let agency = 1; agency <= 3; agency++) {
      const file = `agency-${agency}.csv`;
      const [a, b, c] = await Promise.all(
        ["a", "b", "c"].map((name) => Deno.readFile(`${dir}/${name}/${file}`)),
      );
      assert.deepEqual(a, b, file);
      assert.notDeepEqual(a, c, file);
    }
  });
});

Deno.test("generateDataset() splits --bets unevenly, and --per-agency exactly", async () => {
  await withTempDir(async (dir) => {
    const total = await generateDataset({ out: `${dir}/total`, agencies: 5, bets: 10_001 });
    const sizes = total.files.map((file) => file.bets);
    assert.equal(sizes.reduce((sum, size) => sum + size, 0), 10_001);
    assert.ok(new Set(sizes).size > 1, `sizes ${sizes}`);
    for (const size of sizes) {
      assert.ok(size > 10_001 / 5 * 0.6 && size < 10_001 / 5 * 1.4, `sizes ${sizes}`);
    }

    const each = await generateDataset({ out: `${dir}/each`, agencies: 4, perAgency: 250 });
    assert.deepEqual(each.files.map((file) => file.bets), [250, 250, 250, 250]);
    assert.equal(each.bets, 1000);
  });
});

/** Reads back every file: counts, winners and validity of each row. */
async function checkFiles(summary: DatasetSummary, agencies: number): Promise<void> {
  const today = new Date();
  for (const file of summary.files) {
    let rows = 0;
    let winners = 0;
    let lastLine = 0;
    for await (const { bet, line } of readAgencyBets(file.path, { agency: file.agency })) {
      const reason = validateBet(bet, { agencies, today });
      assert.equal(reason, undefined, `${file.path}:${line}: ${reason}`);
      assert.ok(Number(bet.document) >= 10_000_000 && Number(bet.document) <= 49_999_999);
      assert.ok(bet.birthdate >= "1940-01-01" && bet.birthdate <= "2005-12-31", bet.birthdate);
      assert.ok(bet.number <= 9999);
      rows++;
      if (hasWon(bet)) winners++;
      lastLine = line;
    }
    assert.equal(rows, file.bets, file.path);
    assert.equal(lastLine, file.bets, `${file.path}: one record a line`);
    assert.equal(winners, file.winners, file.path);
    assert.equal((await Deno.stat(file.path)).size, file.bytes, file.path);
  }
}

Deno.test("generateDataset() rows all pass validateBet(), with at least --min-winners winners each", async () => {
  await withTempDir(async (dir) => {
    const summary = await generateDataset({
      out: dir,
      agencies: 4,
      perAgency: 5000,
      minWinners: 2,
    });
    for (const file of summary.files) assert.ok(file.winners >= 2, `${file.path}: ${file.winners}`);
    await checkFiles(summary, 4);
    const text = await Deno.readTextFile(`${dir}/agency-1.csv`);
    assert.ok(!text.includes("\r"), "LF line ends");
    assert.match(text, /[áéíóúñÁÉÍÓÚÑ]/, "accents");
  });
});

Deno.test("the shipped .data/ dataset is what the generator's defaults write", async () => {
  const shipped = new URL(import.meta.resolve("../.data/")).pathname;
  await withTempDir(async (dir) => {
    const summary = await generateDataset({ out: dir });
    assert.equal(summary.files.length, 5);
    assert.equal(summary.bets, 80_000);
    for (const file of summary.files) {
      assert.ok(file.winners >= 1, `${file.path}: no winner`);
      const name = `agency-${file.agency}.csv`;
      assert.deepEqual(
        await Deno.readFile(`${shipped}${name}`),
        await Deno.readFile(file.path),
        name,
      );
    }
    await checkFiles(summary, 5);
  });
});

Deno.test("gen_data CLI writes the files and prints per-agency counts and a summary", async () => {
  await withTempDir(async (dir) => {
    const { code, stdout, stderr } = await run([
      "--out",
      dir,
      "--agencies",
      "2",
      "--per-agency",
      "300",
    ]);
    assert.equal(code, 0, stderr);
    const lines = stdout.trim().split("\n");
    assert.equal(lines.length, 3, stdout);
    assert.match(
      lines[0],
      new RegExp(
        `^${dir}/agency-1\\.csv: 300 bets, \\d+ winners?( \\(\\d+ added\\))?, [\\d,]+ bytes$`,
      ),
    );
    assert.match(
      lines[2],
      /^gen_data: wrote 600 bets \(\d+ winners?\) in 2 files, [\d,]+ bytes, to /,
    );
    assert.equal((await Deno.readTextFile(`${dir}/agency-2.csv`)).split("\n").length, 301);
  });
});

Deno.test("gen_data CLI prints usage on --help, and a reason plus usage with exit 2 on a bad flag", async () => {
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: /);
  const cases: [string[], string][] = [
    [["--bogus"], "gen_data: Unknown option '--bogus'"],
    [["--agencies", "0"], 'gen_data: Invalid --agencies: "0" (expected an integer 1..65535)'],
    [
      ["--bets", "1e3"],
      'gen_data: Invalid --bets: "1e3" (expected an integer 0..9007199254740991)',
    ],
    [["--seed=-1"], 'gen_data: Invalid --seed: "-1" (expected an integer 0..4294967295)'],
    [
      ["--bets", "10", "--per-agency", "2"],
      "gen_data: Conflicting flags: --bets and --per-agency (give one)",
    ],
    [["--bets", "3"], "gen_data: Too few bets for --min-winners 1: agency sizes"],
    [["extra"], "gen_data: Unexpected argument 'extra'"],
  ];
  for (const [args, reason] of cases) {
    const { code, stdout, stderr } = await run(args);
    assert.equal(code, 2, args.join(" "));
    assert.equal(stdout, "");
    const [first, second] = stderr.split("\n");
    assert.ok(first.startsWith(reason), `${args.join(" ")}: ${first}`);
    assert.equal(second, "Usage: deno run -A tools/gen_data.ts [options]");
  }
});
