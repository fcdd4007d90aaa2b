/**
 * The floor of the e2e run: six bare Deno processes that move the shipped
 * dataset's bytes and nothing else, started and timed by
 * `e2e_external.sh <data> <agencies> floor` exactly as tp0's six are. The
 * server takes `--agencies` connections, appends what each sends to one file
 * (interleaved chunks: the bytes, not rows), fsyncs it once and answers every
 * agency one byte; a client sends its
 * agency file whole and waits for that byte. No configuration, logging,
 * protocol or checks: what six processes of this runtime cost on this machine
 * for the same bytes. Flags are read by hand (a flag library would load more).
 *
 *     deno run -A tools/bench/floor_processes.ts server --port P --agencies N --storage FILE
 *     deno run -A tools/bench/floor_processes.ts client --server-address 127.0.0.1:P --data FILE
 *
 * @module
 */

/** The value after `--name` in the arguments. */
function flag(args: string[], name: string): string {
  const at = args.indexOf(`--${name}`);
  if (at < 0 || at + 1 >= args.length) throw new Error(`missing --${name}`);
  return args[at + 1];
}

async function server(args: string[]): Promise<void> {
  const agencies = Number(flag(args, "agencies"));
  // O_APPEND: the connections' writes may run at once, and every byte is kept (a fresh file).
  using file = await Deno.open(flag(args, "storage"), { append: true, create: true });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(flag(args, "port")) });
  // The marker e2e_external.sh waits for, as it waits for tp0's.
  console.log("action: server_listening | result: success");
  const conns: Deno.Conn[] = [];
  const received: Promise<void>[] = [];
  for await (const conn of listener) {
    conns.push(conn);
    received.push(receive(conn, file));
    if (conns.length === agencies) break; // (leaving the loop closes the listener)
  }
  await Promise.all(received);
  await file.syncData();
  for (const conn of conns) {
    await conn.write(Uint8Array.of(1));
    conn.close();
  }
  // Like tp0's server, it runs until stopped (the harness reads its CPU, then stops it).
  // A signal listener alone does not keep the process alive: a timer does.
  const alive = setInterval(() => {}, 1 << 30);
  await new Promise<void>((resolve) => Deno.addSignalListener("SIGTERM", () => resolve()));
  clearInterval(alive);
}

/** Appends what `conn` sends to `file` until its end of stream. */
async function receive(conn: Deno.Conn, file: Deno.FsFile): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const count = await conn.read(buffer);
    if (count === null) return;
    let written = 0;
    while (written < count) written += await file.write(buffer.subarray(written, count));
  }
}

async function client(args: string[]): Promise<void> {
  const [hostname, port] = flag(args, "server-address").split(":");
  const data = await Deno.readFile(flag(args, "data"));
  const conn = await Deno.connect({ hostname, port: Number(port) });
  let written = 0;
  while (written < data.length) written += await conn.write(data.subarray(written));
  await conn.closeWrite();
  await conn.read(new Uint8Array(1));
  conn.close();
}

if (import.meta.main) {
  const [role, ...args] = Deno.args;
  await (role === "server" ? server(args) : client(args));
}
