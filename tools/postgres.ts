/**
 * A throwaway PostgreSQL cluster from the machine's binaries: initdb into a
 * temporary folder (as the `postgres` user when run as root: initdb refuses
 * root), started on a free port with its socket in that folder, stopped and
 * removed after. Used by the replica tests and `deno task demo --servers K`.
 *
 * @module
 */

/** A running cluster. */
export interface TempPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication). */
  readonly url: string;
  readonly port: number;
  /** Stops it (`pg_ctl stop -m immediate`: a crash); {@linkcode start} brings it back. */
  crash(): Promise<void>;
  /** Starts it again after {@linkcode crash}. */
  start(): Promise<void>;
  /** Runs one statement with `psql -Atc` (in `database`, default `postgres`); its output, trimmed. */
  query(sql: string, database?: string): Promise<string>;
  /** Stops it and removes its folder. */
  remove(): Promise<void>;
}

/** Why no cluster could be made, in one line. */
export class PostgresUnavailable extends Error {
  /** The error with its reason. */
  constructor(reason: string) {
    super(`postgresql unavailable: ${reason}`);
    this.name = "PostgresUnavailable";
  }
}

/**
 * The folder of `initdb` and `pg_ctl`: `pg_config --bindir`, PATH, /usr/lib/postgresql/N/bin;
 * only `$TP0_PG_BINDIR` when it is set (a chosen version, or none: a test of the message).
 */
export async function postgresBinDir(): Promise<string | undefined> {
  const chosen = Deno.env.get("TP0_PG_BINDIR");
  if (chosen !== undefined) return await hasBinaries(chosen) ? chosen : undefined;
  const candidates: string[] = [];
  try {
    const out = await new Deno.Command("pg_config", { args: ["--bindir"], stderr: "null" })
      .output();
    if (out.success) candidates.push(new TextDecoder().decode(out.stdout).trim());
  } catch {
    // No pg_config.
  }
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) candidates.push(dir);
  try {
    const versions = [];
    for await (const entry of Deno.readDir("/usr/lib/postgresql")) versions.push(entry.name);
    versions.sort((a, b) => Number(b) - Number(a));
    for (const version of versions) candidates.push(`/usr/lib/postgresql/${version}/bin`);
  } catch {
    // Not there.
  }
  for (const dir of candidates) {
    if (await hasBinaries(dir)) return dir;
  }
  return undefined;
}

async function hasBinaries(dir: string): Promise<boolean> {
  try {
    await Deno.stat(`${dir}/initdb`);
    await Deno.stat(`${dir}/pg_ctl`);
    return true;
  } catch {
    return false;
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function run(command: string[], asPostgres: boolean): Promise<void> {
  const [program, ...args] = asPostgres ? ["runuser", "-u", "postgres", "--", ...command] : command;
  const out = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr).trim() ||
      new TextDecoder().decode(out.stdout).trim();
    throw new PostgresUnavailable(
      `${command[0].split("/").pop()} failed: ${text.split("\n").slice(-2).join(" ")}`,
    );
  }
}

/**
 * Makes and starts a cluster.
 * @throws {PostgresUnavailable} when the binaries are missing or it does not start.
 */
export async function startTempPostgres(): Promise<TempPostgres> {
  const bin = await postgresBinDir();
  if (bin === undefined) {
    throw new PostgresUnavailable(
      "no initdb in pg_config --bindir, PATH or /usr/lib/postgresql/*/bin " +
        "(apt-get install postgresql)",
    );
  }
  const asPostgres = Deno.uid() === 0;
  const dir = await Deno.makeTempDir({ prefix: "tp0-pg-" });
  const data = `${dir}/data`;
  const port = freePort();
  try {
    if (asPostgres) await run(["chown", "postgres", dir], false);
    await run([`${bin}/initdb`, "-D", data, "-U", "postgres", "--auth=trust", "-N"], asPostgres);
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on`;
  const start = () =>
    run(
      [`${bin}/pg_ctl`, "-D", data, "-w", "-l", `${dir}/log`, "-o", options, "start"],
      asPostgres,
    );
  const stop = (mode: string) =>
    run([`${bin}/pg_ctl`, "-D", data, "-w", "-m", mode, "stop"], asPostgres);
  try {
    await start();
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
  let removed = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    crash: () => stop("immediate"),
    start,
    async query(sql: string, database = "postgres") {
      const out = await new Deno.Command(`${bin}/psql`, {
        args: [`postgres://postgres@127.0.0.1:${port}/${database}`, "-Atc", sql],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) throw new Error(`psql: ${new TextDecoder().decode(out.stderr).trim()}`);
      return new TextDecoder().decode(out.stdout).trim();
    },
    async remove() {
      if (removed) return;
      removed = true;
      await stop("immediate").catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
