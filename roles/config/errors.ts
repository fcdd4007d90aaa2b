/**
 * The configuration layer's error: every bad value, unknown key, duplicate
 * key or unreadable file of one load, named in one line.
 *
 * @module
 */

/** A bad configuration; the message is one line naming every bad key, value and expectation. */
export class ConfigError extends Error {
  /** Creates a configuration error with a one-line message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
  }
}
