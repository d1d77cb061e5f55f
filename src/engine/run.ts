/**
 * Runs a plan: one transaction per migration (pipeline.ts), or all of them in one with
 * `--atomic`, the history row written or deleted inside it. It never throws for a failing
 * migration: it returns what happened to each one.
 *
 * @module
 */

import { isCitus, SEQUENTIAL_MODE } from "../catalog/distribution.ts";
import { ConnectionLostError, type Database, StatementError } from "../db/database.ts";
import type { History } from "./history.ts";
import type { InDoubtLimits } from "./in_doubt.ts";
import { done, failed, isDone, lostOutcomes, type MigrationOutcome, notRun, type RunResult } from "./outcome.ts";
import { Runner } from "./pipeline.ts";
import type { Plan, PlannedMigration } from "./plan.ts";
import {
  type DdlSafety,
  DEFAULT_DDL_SAFETY,
  migrationBody,
  pureStatements,
  safetyStatements,
  withRetries,
} from "./transaction.ts";

export type { MigrationFailure, MigrationOutcome, MigrationOutcomeStatus, RunResult } from "./outcome.ts";
export {
  citusStatements,
  type DdlSafety,
  DEFAULT_DDL_SAFETY,
  safetyStatements,
  storedReversal,
} from "./transaction.ts";

/** Progress callbacks: the engine reports, the caller prints. */
export interface RunHooks {
  onStart?(migration: PlannedMigration): void;
  onEnd?(migration: PlannedMigration, outcome: MigrationOutcome): void;
}

/** Options of {@linkcode runPlan}. */
export interface RunOptions {
  /** Record forwards migrations as run without running them. */
  readonly fake?: boolean;
  readonly hooks?: RunHooks;
  /** Timeouts and retries for the migrations' statements. @default DEFAULT_DDL_SAFETY */
  readonly safety?: DdlSafety;
  /**
   * Run the whole plan in one transaction: all or nothing. Refused for plans with steps that
   * cannot run in a transaction.
   */
  readonly atomic?: boolean;
  /** Pause before retry `attempt` (from 1), in ms; tests shorten it. */
  readonly retryPause?: (attempt: number) => number;
  /** Set by runPlan: the database runs Citus. */
  readonly citus?: boolean;
  /**
   * Whether session state persists on the connection. False behind a transaction pooler:
   * then no session-level `SET` is sent (it would stay on some other client's server
   * connection). @default true
   */
  readonly sessionState?: boolean;
  /** Called before each migration; throws to stop the run there (the run lock was lost). */
  readonly guard?: () => void;
  /** How long to try to learn the truth after the connection was lost. @default DEFAULT_IN_DOUBT */
  readonly inDoubt?: InDoubtLimits;
  /**
   * Keep each outcome's executed statements (`sql`); false drops them once reported to the
   * hooks, so that a run of thousands keeps small results. @default true
   */
  readonly keepSql?: boolean;
  /**
   * Send SQL-only migrations while the one before still runs, where the transport can. False
   * when `guard` must decide before each migration starts (the table lock's lease: a migration
   * already sent would start after a lease lost meanwhile). @default true
   */
  readonly pipeline?: boolean;
}

/**
 * Runs each planned migration in its own transaction (or all in one with `atomic`), stopping
 * at the first failure. A long plan's listing entries are planned in full one at a time, as
 * they come to run (`plan.each`).
 */
export async function runPlan(
  db: Database,
  history: History,
  plan: Plan,
  options: RunOptions = {},
): Promise<RunResult> {
  const light = plan.migrations.some((m) => m.light);
  // A listing entry of a long plan has no SQL: running it would only delete its history row.
  if (light && (plan.each === undefined || options.atomic)) {
    throw new TypeError("runPlan was given listing entries: plan them in full");
  }
  // Citus: known once per session; every migration's transaction then runs in sequential mode.
  options = { ...options, citus: await isCitus(db) };
  if (options.atomic) return await runAtomic(db, history, plan, options);
  return await new Runner(db, history, plan, options).run();
}

/** How many migrations of an `--atomic` run may be sent ahead of the one the server is running. */
const ATOMIC_WINDOW = 4;

/** `--atomic`: one transaction for the whole plan; a failure anywhere rolls everything back. */
async function runAtomic(db: Database, history: History, plan: Plan, options: RunOptions): Promise<RunResult> {
  const outcomes: MigrationOutcome[] = [];
  let failure: { index: number; error: unknown } | undefined;
  const executed: string[][] = [];
  const started: number[] = [];
  try {
    await withRetries(options, [], async () => {
      outcomes.length = 0;
      await db.transaction(async (tx) => {
        await tx.execute(safetyStatements(options.safety ?? DEFAULT_DDL_SAFETY, true));
        // Citus: before any multi-shard command of the whole transaction.
        if (options.citus) await tx.execute([SEQUENTIAL_MODE]);
        // Where the transport pipelines, migrations of SQL only are sent without waiting for
        // each other's results (in one transaction, a failure aborts everything after it anyway);
        // they are awaited before a migration that needs answers, and before the COMMIT.
        // A window of them is in flight at once: enough to keep the server busy, few enough that
        // memory does not grow with the plan.
        const pending: { index: number; statements: readonly string[]; result: Promise<unknown> }[] = [];
        const settle = async (keep: number) => {
          while (pending.length > keep) {
            const { index, statements, result } = pending.shift()!;
            const error = await result;
            if (error === undefined) continue;
            // What was sent after it fails too (the transaction is aborted): observed, not reported.
            await Promise.all(pending.splice(0).map((p) => p.result));
            executed[index] = error instanceof StatementError ? statements.slice(0, error.index + 1) : [...statements];
            failure = { index, error };
            throw error;
          }
        };
        const drain = () => settle(0);
        for (const [index, m] of plan.migrations.entries()) {
          options.hooks?.onStart?.(m);
          started[index] = performance.now();
          const pure = db.sendTransaction ? pureStatements(history, m, options) : undefined;
          if (pure) {
            executed[index] = [...pure.body];
            const result = tx.execute(pure.body).then(() => undefined, (e: unknown) => e ?? new Error("failed"));
            pending.push({ index, statements: pure.body, result });
            outcomes.push(done(plan, m, options, started[index]!, executed[index]!));
            await settle(ATOMIC_WINDOW);
            continue;
          }
          await drain();
          executed[index] = [];
          try {
            await migrationBody(tx, history, m, options, executed[index]!, false);
          } catch (error) {
            failure = { index, error };
            throw error;
          }
          outcomes.push(done(plan, m, options, started[index]!, executed[index]!));
        }
        await drain();
      });
    });
  } catch (error) {
    // Lost at the COMMIT itself: the last migration was the one under way.
    failure ??= { index: error instanceof ConnectionLostError ? plan.migrations.length - 1 : 0, error };
  }
  if (failure !== undefined && failure.error instanceof ConnectionLostError) {
    // The one transaction may or may not have committed (a loss at COMMIT): the history says.
    const result = await lostOutcomes(
      db,
      history,
      plan,
      plan.migrations,
      options,
      failure.error,
      plan.migrations.map((_, i) => started[i] ?? performance.now()),
      plan.migrations.map((_, i) => executed[i] ?? []),
    );
    const committed = result.every(isDone);
    // Not committed: all rolled back together; the one under way when it was lost says why.
    const atomicResult = committed
      ? result
      : result.map((o, i) => o.status === "unknown" || i === failure!.index ? o : notRun(plan.migrations[i]!));
    for (const [i, m] of plan.migrations.entries()) options.hooks?.onEnd?.(m, atomicResult[i]!);
    return { success: committed, outcomes: atomicResult };
  }
  if (failure === undefined) {
    for (const [i, m] of plan.migrations.entries()) options.hooks?.onEnd?.(m, outcomes[i]!);
    return { success: true, outcomes };
  }
  // Everything was rolled back: the failed one says why, the others did not happen.
  const result = plan.migrations.map((m, i): MigrationOutcome =>
    i === failure!.index
      ? failed(m, started[i] ?? performance.now(), executed[i] ?? [], failure!.error, true)
      : notRun(m)
  );
  for (const [i, m] of plan.migrations.entries()) options.hooks?.onEnd?.(m, result[i]!);
  return { success: false, outcomes: result };
}
