/**
 * Helpers every layer may use and that know nothing of tp0's domain: whole
 * writes and synchronous prints, `host:port` parsing, typo suggestions, Go
 * durations, UTF-8 checks over bytes, and the command-line plumbing (flags,
 * usage errors, exit codes). It imports no other tp0 package.
 *
 * @module
 */

export { ADDRESS_EXPECTED, type HostPort, splitHostPort } from "./address.ts";
export {
  type CommandSpec,
  EXIT_FAIL,
  EXIT_OK,
  EXIT_USAGE,
  parseCommand,
  type ParsedCommand,
  printUsageError,
  runCommand,
  UsageError,
} from "./cli.ts";
export { formatDuration, parseDuration } from "./duration.ts";
export {
  type ByteWriter,
  printErr,
  printOut,
  type SyncByteWriter,
  writeAll,
  writeAllSync,
} from "./io.ts";
export { closest, type ClosestOptions, editDistance } from "./suggest.ts";
export { decodeUtf8, isUtf8, utf8SequenceLength } from "./utf8.ts";
export { describeError } from "./describe_error.ts";
