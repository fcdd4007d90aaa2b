/**
 * `host:port` addresses, as every role and tool takes them.
 *
 * @module
 */

/** A host name (IPv6 without brackets) and a port. */
export interface HostPort {
  hostname: string;
  port: number;
}

/** What a valid address looks like, for error messages. */
export const ADDRESS_EXPECTED = "host:port with a port 1..65535";

/**
 * Splits `host:port` (`server:12345`, `127.0.0.1:80`, `[::1]:80`) into a host
 * name (IPv6 without brackets) and a port 1..65535.
 *
 * @throws {RangeError} `Invalid address: "x" (expected host:port with a port 1..65535)`
 */
export function splitHostPort(address: string): HostPort {
  const match = /^(?:\[([0-9A-Za-z:.%]+)\]|([A-Za-z0-9._-]+)):([0-9]{1,5})$/.exec(address);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port < 1 || port > 65535) {
    throw new RangeError(
      `Invalid address: ${JSON.stringify(address)} (expected ${ADDRESS_EXPECTED})`,
    );
  }
  return { hostname: match[1] ?? match[2], port };
}
