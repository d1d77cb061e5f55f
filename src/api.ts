/**
 * The library API, named after Piccolo's backwards module: `backwards()`, `runBackwards()`,
 * `BackwardsMigrationManager`, `CheckMigrationManager`.
 *
 * @module
 */

import { rm } from "node:fs/promises";
import type { AppConfig } from "./config.ts";
import { executePlan, type MigrationStatus, migrationStatuses, planBackwards } from "./engine/commands.ts";
import { previewPlan, previewScript } from "./engine/preview.ts";
import type { MigrationOutcome } from "./engine/run.ts";
import { openSession, type Session } from "./engine/session.ts";
import { parseTarget } from "./engine/target.ts";
import { TideError } from "./errors.ts";
import { maskPasswords } from "./mask.ts";
import { denoIo } from "./cli/io.ts";
import { confirm } from "./cli/prompt.ts";

/** Options of {@linkcode backwards} and {@linkcode runBackwards}. */
export interface BackwardsOptions {
  /** App name, or `"all"`. */
  readonly appName: string;
  /** `"1"` (most recent), a number N, `"all"`, or an ID (inclusive). @default "1" */
  readonly migrationId?: string;
  /** Do not ask for confirmation. @default false */
  readonly autoAgree?: boolean;
  /** Delete each migration file once its reversal has committed. @default false */
  readonly clean?: boolean;
  /** Only render the SQL; change nothing. @default false */
  readonly preview?: boolean;
  /** Path of `tide.json`. @default "./tide.json" */
  readonly config?: string;
  /** Database URL, as `--database-url`. */
  readonly databaseUrl?: string;
  /** How long to wait for another run's lock, in ms. @default 10000 */
  readonly lockTimeoutMs?: number;
}

/** The outcome of a command (Piccolo's `MigrationResult`, plus each migration's outcome). */
export interface MigrationResult {
  /** False when anything failed, was refused or declined. */
  readonly success: boolean;
  /** What happened, in one line; null when there is nothing to say. */
  readonly message: string | null;
  /** Each migration's outcome, in the order they were (or would have been) run. */
  readonly migrations?: readonly MigrationOutcome[];
  /** With `preview`: the SQL script that would run. */
  readonly script?: string;
}

/** Reverses migrations, as `tide backwards` does, returning data instead of printing. */
export class BackwardsMigrationManager {
  readonly options: BackwardsOptions;

  constructor(options: BackwardsOptions) {
    this.options = options;
  }

  /** Reverses migrations of one app. */
  async runMigrationsBackwards(appConfig: Pick<AppConfig, "name">): Promise<MigrationResult> {
    return await this.#run(appConfig.name);
  }

  /** Reverses migrations of the configured app (or of every app for `"all"`). */
  async run(): Promise<MigrationResult> {
    return await this.#run(this.options.appName);
  }

  async #run(app: string): Promise<MigrationResult> {
    let session: Session | undefined;
    try {
      const target = parseTarget(this.options.migrationId ?? "1");
      session = await openSession({
        config: this.options.config,
        databaseUrl: this.options.databaseUrl,
        readOnly: this.options.preview ?? false,
      });
      const plan = await planBackwards(session, { app, target });
      if (plan.migrations.length === 0) return { success: true, message: "No migrations to reverse", migrations: [] };
      if (this.options.preview) {
        const previews = await previewPlan(session.db, session.history, plan);
        const script = previewScript(session.history, "backwards", previews, [
          `tide backwards preview: ${plan.migrations.length} migration(s)`,
        ]);
        return { success: true, message: "Preview only: nothing was changed", script, migrations: [] };
      }
      if (!this.options.autoAgree && !(await confirm(denoIo(), `Reverse ${plan.migrations.length} migration(s)?`))) {
        return { success: false, message: "Not proceeding.", migrations: [] };
      }
      const result = await executePlan(session, plan, { lockTimeoutMs: this.options.lockTimeoutMs ?? 10_000 });
      if (this.options.clean) {
        for (const m of plan.migrations) {
          const done = result.outcomes.find((o) => o.app === m.app && o.id === m.id)?.status === "reversed";
          if (done && m.path) await rm(m.path, { force: true });
        }
      }
      const failure = result.outcomes.find((o) => o.error)?.error;
      const count = result.outcomes.filter((o) => o.status === "reversed").length;
      return {
        success: result.success,
        message: failure?.message ?? result.stopped ?? `Reversed ${count} migration(s)`,
        migrations: result.outcomes,
      };
    } catch (error) {
      if (error instanceof TideError || error instanceof RangeError) {
        return { success: false, message: maskPasswords(error.message), migrations: [] };
      }
      throw error;
    } finally {
      await session?.close();
    }
  }
}

/**
 * Reverses migrations and returns the result; never exits the process.
 *
 * @example
 * ```ts
 * const result = await runBackwards({ appName: "blog", migrationId: "2", autoAgree: true });
 * if (!result.success) console.error(result.message);
 * ```
 */
export async function runBackwards(options: BackwardsOptions): Promise<MigrationResult> {
  return await new BackwardsMigrationManager(options).run();
}

/**
 * Reverses migrations like {@linkcode runBackwards}, prints the outcome, and exits the
 * process with 1 when it failed (Piccolo's `backwards`).
 */
export async function backwards(options: BackwardsOptions): Promise<void> {
  const result = await runBackwards(options);
  const io = denoIo();
  if (result.script !== undefined) io.out(result.script);
  if (result.message !== null) (result.success ? io.out : io.err)(`${result.message}\n`);
  if (!result.success) Deno.exit(1);
}

/** Lists migrations and whether they have run, as `tide check` does. */
export class CheckMigrationManager {
  readonly appName: string | undefined;
  readonly options: { readonly config?: string; readonly databaseUrl?: string };

  /** @param appName One app, or `"all"`/undefined for every app. */
  constructor(appName?: string, options: { config?: string; databaseUrl?: string } = {}) {
    this.appName = appName === "all" ? undefined : appName;
    this.options = options;
  }

  /** Every migration's status, files and history rows alike. */
  async getMigrationStatuses(): Promise<MigrationStatus[]> {
    const session = await openSession({
      config: this.options.config,
      databaseUrl: this.options.databaseUrl,
      readOnly: true,
    });
    try {
      return await migrationStatuses(session, this.appName);
    } finally {
      await session.close();
    }
  }
}
