/**
 * Writes that finish: every byte of a buffer out through a writer that may
 * take only part of it (sockets, files, pipes), asynchronously or not, and
 * the synchronous stdout/stderr prints the CLI and the logger use.
 *
 * @module
 */

/** Anything with an async `write` that may write fewer bytes than given (`Deno.Conn`, `Deno.FsFile`). */
export interface ByteWriter {
  write(bytes: Uint8Array): Promise<number>;
}

/** Anything with a `writeSync` that may write fewer bytes than given (`Deno.stdout`). */
export interface SyncByteWriter {
  writeSync(bytes: Uint8Array): number;
}

/** Writes in a row that may write 0 bytes before the writer counts as stalled. */
const MAX_EMPTY_WRITES = 100;

/**
 * Writes every byte of `bytes`, calling `writer.write` again after a short write.
 *
 * @throws {Deno.errors.WriteZero} after 100 writes in a row that wrote nothing
 * @throws {RangeError} when the writer reports more bytes than it was given
 */
export async function writeAll(writer: ByteWriter, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  let empty = 0;
  while (offset < bytes.length) {
    const count = await writer.write(bytes.subarray(offset));
    offset += advance(count, bytes.length - offset);
    empty = count === 0 ? empty + 1 : 0;
    if (empty >= MAX_EMPTY_WRITES) throw stalled();
  }
}

/** {@linkcode writeAll} for a synchronous writer. */
export function writeAllSync(writer: SyncByteWriter, bytes: Uint8Array): void {
  let offset = 0;
  let empty = 0;
  while (offset < bytes.length) {
    const count = writer.writeSync(bytes.subarray(offset));
    offset += advance(count, bytes.length - offset);
    empty = count === 0 ? empty + 1 : 0;
    if (empty >= MAX_EMPTY_WRITES) throw stalled();
  }
}

function advance(count: number, left: number): number {
  if (!Number.isInteger(count) || count < 0 || count > left) {
    throw new RangeError(`Invalid write result: ${count} (expected 0..${left})`);
  }
  return count;
}

function stalled(): Error {
  return new Deno.errors.WriteZero(
    `Write stalled: ${MAX_EMPTY_WRITES} writes in a row wrote 0 bytes`,
  );
}

const encoder = new TextEncoder();

/** Prints text and a newline (unless it ends with one) on stdout, synchronously: nothing is lost on exit. */
export function printOut(text: string): void {
  writeAllSync(Deno.stdout, encoder.encode(text.endsWith("\n") ? text : `${text}\n`));
}

/** Prints text and a newline (unless it ends with one) on stderr, synchronously. */
export function printErr(text: string): void {
  writeAllSync(Deno.stderr, encoder.encode(text.endsWith("\n") ? text : `${text}\n`));
}
