/**
 * Facts the tools read back from the files a run leaves: how many rows a
 * store (or agency) file holds.
 *
 * @module
 */

/** Lines (newline bytes) of the file at `path`: the rows of a store file. */
export async function countLines(path: string): Promise<number> {
  let count = 0;
  using file = await Deno.open(path);
  const buffer = new Uint8Array(1 << 20);
  for (let n; (n = await file.read(buffer)) !== null;) {
    const chunk = buffer.subarray(0, n);
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) count++;
  }
  return count;
}
