/**
 * The lottery's domain and durable storage: bets, their validation, CSV rows,
 * agency file reading, the append-only bet store and its commit journal.
 * Knows nothing of sockets or the wire protocol.
 *
 * @module
 */

export {
  type Bet,
  hasWon,
  LOTTERY_WINNER_NUMBER,
  MAX_BET_NUMBER,
  validateBet,
  type ValidateBetOptions,
} from "./bet.ts";
export {
  firstInvalidBet,
  packBets,
  type PackBetsOptions,
  PACKED_FIELD_SLOTS,
  PackedBetRules,
  type PackedBets,
  packedCapacity,
  packedDocument,
  PackedField,
  unpackBet,
} from "./packed_bets.ts";
// Bets as CSV: the format, the store rows, the readers (store/csv/ is a package of its own).
export * from "./csv/mod.ts";
export {
  type BatchKey,
  BetStore,
  type BetStoreOptions,
  type BetStoreStats,
  type LoadBetsOptions,
  type StoreRecovery,
} from "./store.ts";
export { StoreError } from "./errors.ts";
export {
  crc32,
  encodeJournalRecord,
  JournalError,
  journalPathOf,
  type JournalRecord,
  type JournalState,
  parseJournal,
  type ParseJournalOptions,
} from "./journal.ts";
// The Lottery interface, its outcomes and its sequence error: all of lottery.ts is the seam.
export * from "./lottery.ts";
export { type BatchStatus, FileLottery, type FileLotteryOptions } from "./file_lottery.ts";
