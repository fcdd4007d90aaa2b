/**
 * The lottery's domain and durable storage: bets, their validation, CSV rows,
 * agency file reading and the append-only bet store. Knows nothing of sockets
 * or the wire protocol.
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
  type AgencyBetRecord,
  agencyRowToBet,
  betToAgencyCsvRow,
  betToCsvRow,
  csvField,
  CsvFormatError,
  readAgencyBets,
  type ReadAgencyBetsOptions,
  readStoreBets,
  type ReadStoreBetsOptions,
  storeRowToBet,
} from "./csv.ts";
export { BetStore, type BetStoreStats, type LoadBetsOptions, StoreError } from "./store.ts";
export { type DoneOutcome, Lottery, type LotteryOptions, type WinnersByAgency } from "./lottery.ts";
