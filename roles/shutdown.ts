/**
 * Graceful shutdown: SIGTERM and SIGINT abort one AbortController, which every
 * part of a role watches (the accept loop, sleeps, waits for the draw).
 *
 * @module
 */

/** The signals that stop a role gracefully. */
export const SHUTDOWN_SIGNALS = ["SIGTERM", "SIGINT"] as const;

/** A signal name that ends the program gracefully. */
export type ShutdownSignal = typeof SHUTDOWN_SIGNALS[number];

/** Why a role stopped early: carried as the abort reason. */
export class ShutdownRequested extends Error {
  /** The signal that asked for the stop. */
  readonly signal: ShutdownSignal;
  /** Creates the abort reason for `signal`. */
  constructor(signal: ShutdownSignal) {
    super(`Shutdown requested: ${signal}`);
    this.name = "ShutdownRequested";
    this.signal = signal;
  }
}

/** A stop signal that came while signals were held, before a role listened for them. */
let heldSignal: ShutdownSignal | undefined;

/**
 * Holds SIGTERM and SIGINT from the program's first line until a role calls
 * {@linkcode abortOnSignals}: a signal that comes while the role's modules
 * load or its configuration is read is remembered, and stops the role as soon
 * as it listens (with its closures logged and exit 0), instead of killing the
 * process without a word. Disposing the handle stops holding.
 */
export function holdShutdownSignals(): Disposable {
  heldSignal = undefined;
  return listenFor((signal) => heldSignal ??= signal);
}

/**
 * Aborts `controller` on SIGTERM or SIGINT, at once if one was held (see
 * {@linkcode holdShutdownSignals}). The returned handle removes the listeners
 * when disposed, so nothing keeps the process alive afterwards.
 *
 * Deno as PID 1 with no SIGTERM listener dies with exit 139 on `docker stop`:
 * registering this listener is what makes the container exit 0.
 */
export function abortOnSignals(controller: AbortController): Disposable {
  const handle = listenFor((signal) => controller.abort(new ShutdownRequested(signal)));
  if (heldSignal !== undefined) controller.abort(new ShutdownRequested(heldSignal));
  heldSignal = undefined;
  return handle;
}

function listenFor(onSignal: (signal: ShutdownSignal) => void): Disposable {
  const listeners = SHUTDOWN_SIGNALS.map((signal) => {
    const listener = () => onSignal(signal);
    Deno.addSignalListener(signal, listener);
    return { signal, listener };
  });
  return {
    [Symbol.dispose]() {
      for (const { signal, listener } of listeners) Deno.removeSignalListener(signal, listener);
    },
  };
}

/**
 * Resolves after `ms` milliseconds, or early (without throwing) when `signal`
 * aborts. Returns whether the full time passed.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Rejects with the signal's reason when it aborts; otherwise resolves as `promise` does. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
