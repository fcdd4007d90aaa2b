/**
 * What a child process uses, read from Linux's /proc while it runs: its peak
 * resident set (VmHWM) and its CPU time (user + system).
 *
 * @module
 */

/** Peak resident set (VmHWM) of a live process, in MiB; undefined once it has exited. */
export function peakRssMiB(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a live process has used, in ms; undefined once it has exited. */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which may hold spaces), from field 3 on.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, 100 ticks a second
  } catch {
    return undefined;
  }
}

/** Polls a process's VmHWM until it exits; `peak` is the last value read (it only grows). */
export class RssWatch {
  /** The highest VmHWM read so far, in MiB. */
  peak = 0;
  #timer: ReturnType<typeof setInterval>;
  #pid: number;

  /** Starts polling `pid` every `intervalMs`. */
  constructor(pid: number, intervalMs = 20) {
    this.#pid = pid;
    this.#timer = setInterval(() => this.read(), intervalMs);
  }

  /** Reads VmHWM now. */
  read(): void {
    const value = peakRssMiB(this.#pid);
    if (value !== undefined && value > this.peak) this.peak = value;
  }

  /** Stops polling; returns the peak. */
  stop(): number {
    clearInterval(this.#timer);
    return this.peak;
  }
}
