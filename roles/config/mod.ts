/**
 * Configuration of the roles: one field table per role (server, client) on
 * one mechanism (flag > environment variable > config file > default, every
 * problem named in one {@linkcode ConfigError} line), the INI and YAML
 * readers, and each role's command line generated from its table.
 *
 * @example
 * ```ts
 * const config = await loadClientConfig({ flags: { id: "3" } });
 * log.info({ action: "config", result: "success", ...describeClientConfig(config) });
 * ```
 *
 * @module
 */

export {
  CLIENT_FIELDS,
  type ClientConfig,
  type ClientMode,
  type ClientOptions,
  DEFAULT_CLIENT_CONFIG_PATH,
  describeClientConfig,
  loadClientConfig,
  MAX_BATCH_AMOUNT,
} from "./client.ts";
export {
  parseRoleArgs,
  type RoleArgs,
  type RoleCli,
  type RoleCommand,
  roleUsage,
  runRole,
} from "./command.ts";
export { ConfigError } from "./errors.ts";
export {
  type ConfigOf,
  type ConfigOptions,
  type ConfigSchema,
  type Field,
  type FieldTable,
  type FlagValues,
  loadConfig,
  type LoadedConfig,
  type Resolved,
  type ResolvedFields,
  resolveFields,
} from "./fields.ts";
export { iniValue } from "./ini.ts";
export { type AgencyKeys, readAgencyKey, readAgencyKeys } from "./keys.ts";
export {
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_HANDSHAKES,
  DEFAULT_SERVER_CONFIG_PATH,
  describeServerConfig,
  loadServerConfig,
  SERVER_FIELDS,
  type ServerConfig,
  type ServerOptions,
} from "./server.ts";
