/**
 * {@linkcode AgencyRoll}: the agencies of a lottery and how many of them are
 * done, the part every `Lottery` shares (`FileLottery`, and
 * `PostgresLottery` in store/postgres/). Internal to store/: not exported by
 * its mod.ts (a `_` file would be private to this folder, and store/postgres/
 * uses it too).
 *
 * @module
 */

/** The agencies taking part and the set of those done, which the lottery keeps. */
export abstract class AgencyRoll {
  #agencies: number;
  #done: ReadonlySet<number>;

  /** `done` is the lottery's own set of agencies done, read here. */
  constructor(agencies: number, done: ReadonlySet<number>) {
    this.#agencies = agencies;
    this.#done = done;
  }

  /** How many agencies take part. */
  get agencies(): number {
    return this.#agencies;
  }

  /** How many distinct agencies are done. */
  get doneCount(): number {
    return this.#done.size;
  }

  /** Whether every agency is done: the draw may run. */
  get allDone(): boolean {
    return this.#done.size === this.#agencies;
  }

  /** Whether `agency` is a valid agency number for this lottery. */
  isAgency(agency: number): boolean {
    return Number.isInteger(agency) && agency >= 1 && agency <= this.#agencies;
  }
}
