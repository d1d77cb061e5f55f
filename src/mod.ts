/**
 * tide: PostgreSQL schema migrations, forwards and above all backwards.
 *
 * Migration files import only types from here (`import type { MigrationContext } from "tide"`);
 * programs use the functions to run backwards from code.
 *
 * @example
 * ```ts
 * import { runBackwards } from "tide";
 * const result = await runBackwards({ appName: "blog", autoAgree: true });
 * ```
 *
 * @module
 */

export {
  backwards,
  BackwardsMigrationManager,
  type BackwardsOptions,
  CheckMigrationManager,
  type MigrationResult,
  runBackwards,
} from "./api.ts";
export type { MigrationStatus } from "./engine/commands.ts";
export type { MigrationOutcome, MigrationOutcomeStatus } from "./engine/run.ts";
export { type MigrationContext, type MigrationDb, MigrationManager } from "./migration/manager.ts";
export type { RetainOptions } from "./migration/manager.ts";
export type { RetainedEntry } from "./engine/retained.ts";
export type { RetainedFinding } from "./retention/preflight.ts";
export type { ColumnChanges, IndexOptions, RawStep } from "./migration/operations.ts";
export type { MigrationModule } from "./loader/load.ts";
export type { AppConfig, ProjectConfig } from "./config.ts";
export { ConfigError, LoadError, PlanError, RunError, TideError, UsageError } from "./errors.ts";
