/**
 * The error of the CSV layer: a file that is not valid CSV for bets.
 *
 * @module
 */

/** A file that is not valid CSV for bets; the message starts with `path:line:`. */
export class CsvFormatError extends Error {
  /** File that was being read. */
  readonly path: string;
  /** 1-based line where the bad record starts (0 when the file could not be read at all). */
  readonly line: number;
  /** The problem alone, without the `path:line:` prefix. */
  readonly reason: string;

  /** Creates the error; `message` is the problem, without the `path:line:` prefix. */
  constructor(message: string, options: { path: string; line: number; cause?: unknown }) {
    const where = options.line > 0 ? `${options.path}:${options.line}` : options.path;
    super(`${where}: ${message}`, { cause: options.cause });
    this.name = "CsvFormatError";
    this.path = options.path;
    this.line = options.line;
    this.reason = message;
  }
}
