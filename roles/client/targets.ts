/**
 * {@linkcode ServerTargets}: where the client connects, for failover between
 * server replicas. `server.address` is one `host:port` or several,
 * comma-separated; one name is resolved on each attempt to every address it
 * has (`Deno.resolveDns(name, "A")`: in Docker, one a replica behind the
 * service's alias), falling back to the name itself. After a dropped
 * connection or a failed attempt the next address is tried.
 *
 * @module
 */

import { type HostPort, splitHostPort } from "../../util/mod.ts";

/** Whether `host` is an IP address already (nothing to resolve). */
function isIpAddress(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

/** The addresses a client may reach the server at, and which one is next. */
export class ServerTargets {
  #given: HostPort[];
  #index = 0;

  /** Parses `address`: `host:port[,host:port...]`. @throws {RangeError} on a bad part. */
  constructor(address: string) {
    this.#given = address.split(",").map((part) => splitHostPort(part.trim()));
  }

  /** The address to try now. */
  async current(): Promise<HostPort> {
    if (this.#given.length > 1) return this.#given[this.#index % this.#given.length];
    const only = this.#given[0];
    if (isIpAddress(only.hostname) || only.hostname === "localhost") return only;
    try {
      const ips = (await Deno.resolveDns(only.hostname, "A")).sort();
      if (ips.length > 1) return { hostname: ips[this.#index % ips.length], port: only.port };
    } catch {
      // Not resolvable by DNS (or /etc/hosts only): connect to the name.
    }
    return only;
  }

  /** Moves on to the next address (after a drop or a failed attempt). */
  advance(): void {
    this.#index++;
  }
}
