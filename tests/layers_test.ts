/**
 * The layering rules, read from every import of every TypeScript file in the
 * repository: a package (a folder with a `mod.ts`) is entered only through
 * its face, `_private.ts` files stay in their folder, and each layer imports
 * only the layers below it (docs/design.md, "Layers"):
 *
 *     util  <-  store  <-  protocol  <-  roles/*  <-  main.ts
 *                  ^------ compose ---------'  (compose: util and store only)
 *
 * Tests, benchmarks and tools may import any layer (through its face); nothing
 * but them imports tools/, and any test may use the helpers in tests/_*.ts.
 */

import assert from "node:assert/strict";
import { ROOT } from "../tools/processes.ts";

/** One relative import: the importing file and the imported file, both relative to the root. */
interface Import {
  from: string;
  to: string;
}

const IMPORT =
  /(?:^|[\s;])(?:import|export)\s[^;]*?from\s*["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)|^import\s*["'](\.[^"']+)["']/gm;

/** Every relative import of `text`, a file at `from` (root-relative). */
export function importsOf(from: string, text: string): Import[] {
  const dir = from.includes("/") ? from.slice(0, from.lastIndexOf("/")) : "";
  const out: Import[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const spec = match[1] ?? match[2] ?? match[3];
    out.push({ from, to: normalize(dir === "" ? spec : `${dir}/${spec}`) });
  }
  return out;
}

function normalize(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return parts.join("/");
}

/** Whether a file is a test, a benchmark or test support: those may import anything. */
function isTestCode(path: string): boolean {
  return path.startsWith("tests/") || /_(test|bench)\.ts$/.test(path);
}

/** The rules, as a list of broken ones (empty when every import obeys). */
export function layerViolations(files: ReadonlyMap<string, string>): string[] {
  const packages = [...files.keys()]
    .filter((path) => path.endsWith("/mod.ts"))
    .map((path) => path.slice(0, -"/mod.ts".length))
    .sort((a, b) => b.length - a.length);
  /** The innermost package holding `path`, if any. */
  const packageOf = (path: string) => packages.find((p) => path.startsWith(`${p}/`));
  const top = (path: string) => path.includes("/") ? path.slice(0, path.indexOf("/")) : path;
  const problems: string[] = [];
  for (const [from, text] of files) {
    for (const { to } of importsOf(from, text)) {
      if (to.endsWith(".json")) continue;
      const edge = `${from} imports ${to}`;
      const target = packageOf(to);
      // A package is entered only through its face.
      if (target !== undefined && !from.startsWith(`${target}/`) && to !== `${target}/mod.ts`) {
        problems.push(`${edge}: enter ${target}/ through ${target}/mod.ts`);
      }
      // `_private.ts` stays in its folder.
      const name = to.slice(to.lastIndexOf("/") + 1);
      const folder = to.slice(0, to.lastIndexOf("/"));
      const sameFolder = from.slice(0, from.lastIndexOf("/")) === folder;
      const testSupport = folder === "tests" && isTestCode(from);
      if (name.startsWith("_") && !sameFolder && !testSupport) {
        problems.push(`${edge}: ${name} is private to ${folder}/`);
      }
      if (isTestCode(from)) continue;
      const [a, b] = [top(from), top(to)];
      if (b === "tools" && a !== "tools") {
        problems.push(`${edge}: only tests and tools import tools/`);
      }
      if (a === "util" && b !== "util") problems.push(`${edge}: util/ imports no other package`);
      if (a === "store" && b !== "store" && b !== "util") {
        problems.push(`${edge}: store/ imports only util/`);
      }
      if (a === "protocol" && !["protocol", "util"].includes(b) && to !== "store/mod.ts") {
        problems.push(`${edge}: protocol/ imports only util/ and store/mod.ts`);
      }
      if (a === "compose" && !["compose", "util", "store"].includes(b)) {
        problems.push(`${edge}: compose/ imports only util/ and store/`);
      }
      const roles = [from, to].map((path) => /^roles\/(server|client)\//.exec(path)?.[1]);
      if (roles[0] !== undefined && roles[1] !== undefined && roles[0] !== roles[1]) {
        problems.push(`${edge}: roles/server and roles/client never import each other`);
      }
      if (b === "main.ts") problems.push(`${edge}: nothing but tests imports main.ts`);
    }
  }
  return problems;
}

/** Every .ts file git tracks (or would track), by root-relative path. */
async function sourceFiles(): Promise<Map<string, string>> {
  const out = await new Deno.Command("git", {
    args: ["ls-files", "--cached", "--others", "--exclude-standard", "*.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const files = new Map<string, string>();
  for (const path of new TextDecoder().decode(out.stdout).split("\n")) {
    // This file's own fixtures hold imports as text, broken on purpose.
    if (path === "" || path === "tests/layers_test.ts") continue;
    try {
      files.set(path, await Deno.readTextFile(`${ROOT}${path}`));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error; // deleted, not yet staged
    }
  }
  return files;
}

Deno.test("every import of the repository obeys the layers", async () => {
  const files = await sourceFiles();
  assert.ok(files.size > 50, `only ${files.size} files found`);
  assert.deepEqual(layerViolations(files), []);
});

Deno.test("every relative import names a file that exists", async () => {
  const files = await sourceFiles();
  const missing = [...files].flatMap(([from, text]) =>
    importsOf(from, text).filter(({ to }) => !to.endsWith(".json") && !files.has(to))
      .map(({ to }) => `${from} imports ${to}`)
  );
  assert.deepEqual(missing, []);
});

Deno.test("layerViolations() names each kind of broken rule", () => {
  const files = new Map([
    ["util/mod.ts", 'export * from "./a.ts";\nimport { x } from "../store/mod.ts";'],
    ["util/a.ts", ""],
    ["store/mod.ts", 'export * from "./_rows.ts";'],
    ["store/_rows.ts", 'import { y } from "../protocol/mod.ts";'],
    ["store/bet.ts", ""],
    ["protocol/mod.ts", 'import { Bet } from "../store/bet.ts";\nimport "../roles/log.ts";'],
    ["protocol/x.ts", 'import { rows } from "../store/_rows.ts";'],
    ["roles/server/mod.ts", 'const m = await import("../client/mod.ts");'],
    ["roles/client/mod.ts", ""],
    ["roles/log.ts", ""],
    ["compose/mod.ts", 'import { z } from "../roles/log.ts";\nimport { t } from "../tools/x.ts";'],
    ["tools/x.ts", 'import { main } from "../main.ts";'],
    ["main.ts", ""],
    ["tests/a_test.ts", 'import { t } from "../tools/x.ts";\nimport "../main.ts";'],
    ["tests/_helpers.ts", ""],
    ["tools/x_test.ts", 'import { h } from "../tests/_helpers.ts";'],
    ["tools/y.ts", 'import { h } from "../tests/_helpers.ts";'],
  ]);
  const problems = layerViolations(files);
  const expected = [
    "util/mod.ts imports store/mod.ts: util/ imports no other package",
    "store/_rows.ts imports protocol/mod.ts: store/ imports only util/",
    "protocol/mod.ts imports store/bet.ts: enter store/ through store/mod.ts",
    "protocol/mod.ts imports store/bet.ts: protocol/ imports only util/ and store/mod.ts",
    "protocol/mod.ts imports roles/log.ts: protocol/ imports only util/ and store/mod.ts",
    "protocol/x.ts imports store/_rows.ts: _rows.ts is private to store/",
    "roles/server/mod.ts imports roles/client/mod.ts: roles/server and roles/client never import each other",
    "compose/mod.ts imports roles/log.ts: compose/ imports only util/ and store/",
    "compose/mod.ts imports tools/x.ts: only tests and tools import tools/",
    "tools/x.ts imports main.ts: nothing but tests imports main.ts",
    "tools/y.ts imports tests/_helpers.ts: _helpers.ts is private to tests/",
  ];
  for (const problem of expected) assert.ok(problems.includes(problem), `missing: ${problem}`);
  assert.ok(!problems.some((p) => p.startsWith("tests/")), "tests may import any layer");
  assert.ok(!problems.some((p) => p.startsWith("tools/x_test.ts")), "a test may use tests/_*.ts");
});
