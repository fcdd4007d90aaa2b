/**
 * Agency keys on disk, for tools and tests: a keys file for the server and one key file an
 * agency, written into a folder with mode 600, and a key as WebCrypto reads it.
 *
 * @module
 */

import { importAgencyKey, newAgencyKeyHex, parseAgencyKey } from "../protocol/mod.ts";

/** The keys of a test lottery, on disk. */
export interface TestKeys {
  /** The server's keys file. */
  serverPath: string;
  /** Agency i's own key file is `clientPaths[i - 1]`. */
  clientPaths: string[];
  /** Agency i's key, 64 hex digits, is `hex[i - 1]`. */
  hex: string[];
}

/** Writes fresh keys for agencies 1..`agencies` into `dir`. */
export async function writeKeys(dir: string, agencies: number): Promise<TestKeys> {
  const hex = Array.from({ length: agencies }, () => newAgencyKeyHex());
  const serverPath = `${dir}/agency-keys`;
  await Deno.writeTextFile(serverPath, hex.map((key, i) => `${i + 1}:${key}\n`).join(""), {
    mode: 0o600,
  });
  await Deno.chmod(serverPath, 0o600);
  const clientPaths: string[] = [];
  for (let i = 0; i < agencies; i++) {
    const path = `${dir}/agency-${i + 1}.key`;
    await Deno.writeTextFile(path, `${hex[i]}\n`, { mode: 0o600 });
    clientPaths.push(path);
  }
  return { serverPath, clientPaths, hex };
}

/** A WebCrypto key from 64 hex digits. */
export function cryptoKey(hex: string): Promise<CryptoKey> {
  return importAgencyKey(parseAgencyKey(hex)!);
}
