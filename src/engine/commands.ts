/**
 * What `backwards`, `forwards` and `check` do, as data in and data out. The CLI and the
 * library API both call these; neither prints from here.
 *
 * @module
 */

import { PlanError, RunError } from "../errors.ts";
import { ConnectionLostError, LockTimeoutError } from "../db/database.ts";
import { type DataLoss, measureDataLoss } from "./data_loss.ts";
import type { InDoubtLimits } from "./in_doubt.ts";
import type { HistoryRow } from "./history.ts";
import {
  canPlanFromHistory,
  type Plan,
  planBackwardsMigration,
  planForwardsMigration,
  planFromHistory,
} from "./plan.ts";
import { type DdlSafety, type RunHooks, runPlan, type RunResult } from "./run.ts";
import { type LockMode, withRunLock } from "./run_lock.ts";
import { selectBackwards, selectForwards } from "./select.ts";
import type { Session } from "./session.ts";
import type { Target } from "./target.ts";

/** What to plan: an app name or `all`, and a target. */
export interface PlanRequest {
  readonly app: string;
  readonly target: Target;
}

/** A plan, plus what the planner wants the user to know. */
export interface CommandPlan extends Plan {
  /** The apps the plan covers, in the order they run. */
  readonly apps: readonly string[];
  /** Things to tell the user (e.g. a dependency with pending migrations). */
  readonly notices: readonly string[];
  /** Selection under the lock must give the same IDs, or the run is refused. */
  reselect(): Promise<string[]>;
}

function appsFor(session: Session, app: string, reverse: boolean): string[] {
  if (app !== "all") return [session.app(app).name];
  const names = session.config.apps.map((a) => a.name);
  return reverse ? names.reverse() : names;
}

/**
 * Maps with at most `limit` calls under way: concurrent enough to overlap file reads and
 * imports, bounded so that hundreds of reads do not all hold their buffers at once.
 */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function keyOf(m: { app: string; id: string }): string {
  return `${m.app} ${m.id}`;
}

/**
 * Plans `backwards`: the run migrations selected by the target, most recently run first,
 * each with its reversal rendered. `all` covers every app in reverse dependency order.
 *
 * @throws {PlanError} for an unknown app or ID, or a migration that cannot be reversed.
 */
export async function planBackwards(session: Session, request: PlanRequest): Promise<CommandPlan> {
  const apps = appsFor(session, request.app, true);
  const select = async (): Promise<HistoryRow[]> => {
    // `backwards N` of one app needs only its N newest rows, however long the history.
    const newest = request.app !== "all" && request.target.kind === "count" ? request.target.count : undefined;
    const rows = await session.history.list(session.db, apps, { reversals: false, ...(newest ? { newest } : {}) });
    return apps.flatMap((app) =>
      selectBackwards(app, rows.filter((r) => r.app === app), request.app === "all" ? { kind: "all" } : request.target)
    );
  };
  // Only the selected rows' stored reversals are read: not the JSON of the whole history.
  const rows = await session.history.withReversals(session.db, await select());
  // A file unchanged since it ran is planned from its history row without importing it:
  // with hundreds of migrations, imports are most of the cost. The rest are imported
  // concurrently.
  const migrations = await mapLimit(rows, 16, async (row) => {
    const source = session.source(row.app);
    const file = row.reversal?.operations ? await source.fileOf(row.id) : undefined;
    if (file && canPlanFromHistory(row, file.checksum)) return planFromHistory(row, file.path, "operations");
    return await planBackwardsMigration(row, await source.get(row.id));
  });
  const refused = migrations.filter((m) => m.irreversible.length > 0);
  if (refused.length > 0) {
    throw new PlanError(
      "Cannot reverse: " + refused.map((m) => `migration ${m.app} ${m.id}: ${m.irreversible.join("; ")}`).join(". ") +
        ". Nothing was run",
    );
  }
  return {
    direction: "backwards",
    apps,
    migrations,
    notices: migrations.flatMap((m) => m.warnings.map((w) => `${m.app} ${m.id}: ${w}`)),
    reselect: async () => (await select()).map(keyOf),
  };
}

/**
 * Plans `forwards`: pending migrations in ID order; `all` covers every app in dependency
 * order.
 *
 * @throws {PlanError} for an unknown app or ID.
 */
export async function planForwards(session: Session, request: PlanRequest): Promise<CommandPlan> {
  const apps = appsFor(session, request.app, false);
  const notices: string[] = [];
  const select = async (): Promise<{ app: string; id: string }[]> => {
    const rows = await session.history.list(session.db, undefined, { reversals: false });
    const picked: { app: string; id: string }[] = [];
    for (const app of apps) {
      const ran = new Set(rows.filter((r) => r.app === app).map((r) => r.id));
      const pending = (await session.source(app).ids()).filter((id) => !ran.has(id));
      const target = request.app === "all" ? { kind: "all" as const } : request.target;
      const ids = selectForwards(app, pending, ran, target);
      if (ids.length === 0 && target.kind === "id" && ran.has(target.id)) {
        notices.push(`Migration ${target.id} of app ${app} has already run`);
      }
      picked.push(...ids.map((id) => ({ app, id })));
    }
    return picked;
  };
  const picked = await select();
  if (request.app !== "all") {
    const rows = await session.history.list(session.db, undefined, { reversals: false });
    for (const dep of session.app(request.app).dependsOn) {
      const ran = new Set(rows.filter((r) => r.app === dep).map((r) => r.id));
      const pending = (await session.source(dep).ids()).filter((id) => !ran.has(id));
      if (pending.length > 0) {
        notices.push(
          `App "${request.app}" depends on "${dep}", which has ${pending.length} pending migration(s): run "tide forwards ${dep}" (or "tide forwards all") first`,
        );
      }
    }
  }
  const migrations = await Promise.all(picked.map(async ({ app, id }) => {
    const migration = await session.source(app).get(id);
    if (!migration) throw new PlanError(`Migration ${id} of app ${app} disappeared while planning`);
    return await planForwardsMigration(migration);
  }));
  return { direction: "forwards", apps, migrations, notices, reselect: async () => (await select()).map(keyOf) };
}

/** Options of {@linkcode executePlan}. */
export interface ExecuteOptions {
  /** How long to wait for another run's lock. @default 10000 */
  readonly lockTimeoutMs?: number;
  /** Record forwards migrations without running them. */
  readonly fake?: boolean;
  readonly hooks?: RunHooks;
  /** Timeouts and retries of the migrations' statements. */
  readonly safety?: DdlSafety;
  /** The whole run in one transaction. */
  readonly atomic?: boolean;
  /** The run lock's kind (`--lock`). @default the config's `"lock"`, else `auto` */
  readonly lock?: LockMode | undefined;
  /** The table lock's lease, in ms (`--lock-lease`). */
  readonly lockLeaseMs?: number | undefined;
  /** What the run is, stored with the table lock (e.g. `tide backwards app`). */
  readonly command?: string | undefined;
  /** Things the user should know before and while it runs (the lock chosen, a stale lock taken over). */
  readonly onNotice?: ((message: string) => void) | undefined;
  /** After a lost connection: how long to try to learn what committed. */
  readonly inDoubt?: InDoubtLimits;
}

/**
 * Takes the migration lock, checks that the history still selects the planned migrations
 * (another run may have gone first), and runs the plan.
 *
 * @throws {RunError} when the lock cannot be had or the history changed meanwhile.
 */
export async function executePlan(
  session: Session,
  plan: CommandPlan,
  options: ExecuteOptions = {},
): Promise<RunResult> {
  const timeout = options.lockTimeoutMs ?? 10_000;
  const unwrapped = plan.migrations.filter((m) => !m.transactional);
  if (options.atomic && unwrapped.length > 0) {
    throw new PlanError(
      `Cannot run --atomic: ${
        unwrapped.map((m) => `${m.app} ${m.id}`).join(", ")
      } has steps that cannot run inside a transaction (CONCURRENTLY). Run without --atomic`,
    );
  }
  try {
    const lockOptions = {
      mode: options.lock,
      timeoutMs: timeout,
      leaseMs: options.lockLeaseMs ?? session.config.lockLeaseMs,
      command: options.command ?? `tide ${plan.direction} ${plan.apps.join(",")}`,
      onNotice: options.onNotice,
    };
    return await withRunLock(session, lockOptions, async (held) => {
      if (!held.sessionState && unwrapped.length > 0) {
        // Session-level SET would land on another server connection, and stay there.
        options.onNotice?.(
          `${
            unwrapped.map((m) => `${m.app} ${m.id}`).join(", ")
          }: its CONCURRENTLY statements run without lock_timeout/statement_timeout, because session settings do not persist through this pooler (transaction mode)`,
        );
      }
      if (plan.direction === "forwards") await session.history.ensure(session.db);
      const now = await plan.reselect();
      const planned = plan.migrations.map(keyOf);
      if (now.join("\n") !== planned.join("\n")) {
        throw new RunError(
          "The history changed while this run waited for the lock (another run went first); nothing was run. " +
            "Run the command again to see the new plan",
        );
      }
      return await runPlan(session.db, session.history, plan, {
        fake: options.fake ?? false,
        hooks: options.hooks ?? {},
        atomic: options.atomic ?? false,
        ...(options.safety ? { safety: options.safety } : {}),
        sessionState: held.sessionState,
        guard: () => held.guard(),
        ...(options.inDoubt ? { inDoubt: options.inDoubt } : {}),
      });
    });
  } catch (error) {
    if (error instanceof LockTimeoutError) throw new RunError(error.message, { cause: error });
    throw error;
  }
}

/**
 * The data-loss preflight (which reads before the lock). When it fails, another run may have
 * changed the schema since this plan was made (`relation "t5" does not exist`): the history is
 * re-read under the lock, and a changed one becomes the same refusal as in
 * {@linkcode executePlan}. Other failures are rethrown as they are.
 *
 * @throws {RunError} when the history changed, or the lock cannot be had to find out.
 */
export async function preflightDataLoss(
  session: Session,
  plan: CommandPlan,
  lockTimeoutMs = 10_000,
): Promise<DataLoss[]> {
  try {
    return await measureDataLoss(session.db, plan);
  } catch (error) {
    if (error instanceof ConnectionLostError) throw error;
    let stands: boolean;
    try {
      stands = await session.db.withLock(
        session.history.lockKey,
        lockTimeoutMs,
        async () => (await plan.reselect()).join("\n") === plan.migrations.map(keyOf).join("\n"),
      );
    } catch (lockError) {
      if (lockError instanceof LockTimeoutError) {
        throw new RunError(
          `The data-loss preflight failed (${(error as Error).message}) while another run holds the migration lock: ` +
            "it is probably changing the schema. Nothing was run; run the command again when it is done",
          { cause: error },
        );
      }
      throw lockError;
    }
    if (stands) throw error;
    throw new RunError(
      "The history changed while this run was planning (another run went first); nothing was run. " +
        "Run the command again to see the new plan",
      { cause: error },
    );
  }
}

/** One migration's state, for `check` (Piccolo's `MigrationStatus` plus tide's fields). */
export interface MigrationStatus {
  readonly appName: string;
  readonly migrationId: string;
  readonly description: string;
  readonly hasRan: boolean;
  /** A history row whose file is gone. */
  readonly fileMissing: boolean;
  /** When it ran (ISO 8601), or null. */
  readonly ranOn: string | null;
  /** Absolute path of the file, or null when it is missing. */
  readonly path: string | null;
  /** The file changed since it ran (checksum differs). */
  readonly changedSinceRun: boolean;
  /** For a missing file: whether the history row alone can reverse it. */
  readonly reversibleFromHistory: boolean | null;
}

/** Lists every migration of one app (or all), files and history rows alike, in ID order. */
export async function migrationStatuses(session: Session, app?: string): Promise<MigrationStatus[]> {
  const apps = app === undefined ? session.config.apps.map((a) => a.name) : [session.app(app).name];
  const rows = await session.history.list(session.db, apps);
  const statuses: MigrationStatus[] = [];
  for (const name of apps) {
    const files = await session.source(name).all();
    const ran = new Map(rows.filter((r) => r.app === name).map((r) => [r.id, r]));
    const ids = [...new Set([...files.keys(), ...ran.keys()])].sort();
    for (const id of ids) {
      const file = files.get(id);
      const row = ran.get(id);
      statuses.push({
        appName: name,
        migrationId: id,
        description: file?.description ?? row?.description ?? "",
        hasRan: row !== undefined,
        fileMissing: file === undefined,
        ranOn: row?.ranOn ?? null,
        path: file?.path ?? null,
        changedSinceRun: file !== undefined && row?.checksum != null && row.checksum !== file.checksum,
        reversibleFromHistory: file === undefined ? (row?.reversal?.statements ?? null) !== null : null,
      });
    }
  }
  return statuses;
}
