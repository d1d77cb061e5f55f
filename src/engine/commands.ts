/**
 * What `backwards`, `forwards` and `check` do, as data in and data out. The CLI and the
 * library API both call these; neither prints from here.
 *
 * @module
 */

import { distributionColumns, isCitus, SEQUENTIAL_NOTICE } from "../catalog/distribution.ts";
import { PlanError, RunError } from "../errors.ts";
import { quoteName } from "../migration/quote.ts";
import { ConnectionLostError, LockTimeoutError } from "../db/database.ts";
import { mapLimit } from "../loader/load.ts";
import { WORKER_ABOVE } from "../loader/workers.ts";
import { type DataLoss, DataLossTargets, measureDataLoss } from "./data_loss.ts";
import type { InDoubtLimits } from "./in_doubt.ts";
import { History, type HistoryRow } from "./history.ts";
import {
  canPlanFromHistory,
  fingerprint,
  lighten,
  type Plan,
  planBackwardsMigration,
  planForwardsMigrationWith,
  planFromHistory,
  type PlannedMigration,
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
  /** Plans longer than this keep listing entries only. @default LIGHT_ABOVE */
  readonly lightAbove?: number;
  /** `forwards` of more than this many migrations records them in Workers. @default WORKER_ABOVE */
  readonly workerAbove?: number;
}

/**
 * How many migrations share one round trip for their stored reversals. A plan longer than
 * this keeps only listing entries ({@linkcode lighten}) once checked, and plans each migration
 * again, one at a time, where its operations are needed: memory stays flat however long the
 * history.
 */
export const PLAN_BATCH = 100;

/**
 * Plans of up to this many migrations are kept in full: planning them again for the preflight
 * and the run would cost more than the memory they take (a few MB at this size). Longer ones
 * keep listing entries ({@linkcode lighten}), so that memory stays flat however long the history.
 */
export const LIGHT_ABOVE = 1000;

/** A plan, plus what the planner wants the user to know. */
export interface CommandPlan extends Plan {
  /** The apps the plan covers, in the order they run. */
  readonly apps: readonly string[];
  /** Things to tell the user (e.g. a dependency with pending migrations). */
  readonly notices: readonly string[];
  /** Selection under the lock must give the same IDs, or the run is refused. */
  reselect(): Promise<string[]>;
  /**
   * The given migrations of this plan in full, one at a time and in order: as planned, or, for
   * listing entries (`light`), planned again.
   *
   * @throws {RunError} when one no longer plans to what was shown (its file or history row
   * changed meanwhile).
   */
  each(migrations: readonly PlannedMigration[]): AsyncGenerator<PlannedMigration>;
  /** {@linkcode each}, collected. */
  full(migrations: readonly PlannedMigration[]): Promise<readonly PlannedMigration[]>;
}

function appsFor(session: Session, app: string, reverse: boolean): string[] {
  if (app !== "all") return [session.app(app).name];
  const names = session.config.apps.map((a) => a.name);
  return reverse ? names.reverse() : names;
}

function keyOf(m: { app: string; id: string }): string {
  return `${m.app} ${m.id}`;
}

/**
 * Plans a chunk of items (at most {@linkcode PLAN_BATCH}): `prepare` does what the chunk
 * shares (one round trip for its stored reversals), the function it returns plans item `i`.
 */
type ChunkPlanner<T> = (chunk: readonly T[]) => Promise<(index: number) => Promise<PlannedMigration>>;

/**
 * Plans every item. Up to `lightAbove` items: in full, 16 at a time (imports overlap). More:
 * {@linkcode PLAN_BATCH} at a time, one by one, each checked and kept as a listing entry only,
 * so that only one migration's operations are alive at once.
 */
async function planAll<T>(
  items: readonly T[],
  prepare: ChunkPlanner<T>,
  onPlanned: (m: PlannedMigration) => void,
  lightAbove: number,
): Promise<PlannedMigration[]> {
  if (items.length <= lightAbove) {
    // Kept in full anyway: what the items share is fetched in one go.
    const planAt = await prepare(items);
    const all = await mapLimit(items.map((_, i) => i), 16, planAt);
    all.forEach(onPlanned);
    return all;
  }
  const out: PlannedMigration[] = [];
  for (let i = 0; i < items.length; i += PLAN_BATCH) {
    const chunk = items.slice(i, i + PLAN_BATCH);
    const planAt = await prepare(chunk);
    for (let j = 0; j < chunk.length; j++) {
      const m = await planAt(j);
      onPlanned(m);
      out.push(lighten(m, asRow(chunk[j])));
    }
  }
  return out;
}

function asRow(item: unknown): HistoryRow | undefined {
  return typeof item === "object" && item !== null && "ranOn" in item ? item as HistoryRow : undefined;
}

/** {@linkcode CommandPlan.each} and `full` over a planner; `itemOf` gives a listing entry's item back. */
function replanning<T>(
  prepare: ChunkPlanner<T>,
  itemOf: (m: PlannedMigration) => T,
): Pick<CommandPlan, "each" | "full"> {
  async function* each(migrations: readonly PlannedMigration[]): AsyncGenerator<PlannedMigration> {
    for (let i = 0; i < migrations.length; i += PLAN_BATCH) {
      const shown = migrations.slice(i, i + PLAN_BATCH);
      if (!shown.some((m) => m.light)) {
        yield* shown;
        continue;
      }
      const planAt = await prepare(shown.map(itemOf));
      for (const [j, was] of shown.entries()) {
        if (!was.light) {
          yield was;
          continue;
        }
        const m = await planAt(j);
        if (m.app !== was.app || m.id !== was.id || fingerprint(m) !== was.fingerprint) {
          throw new RunError(
            `Migration ${was.app} ${was.id} no longer plans to what was shown (its file or history row changed ` +
              "while this run went on); it was not run. Run the command again to see the new plan",
          );
        }
        yield m;
      }
    }
  }
  return {
    each,
    full: async (migrations) => {
      if (!migrations.some((m) => m.light)) return migrations;
      const out: PlannedMigration[] = [];
      for await (const m of each(migrations)) out.push(m);
      return out;
    },
  };
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
  const prepare: ChunkPlanner<HistoryRow> = async (chunk) => {
    // Only the selected rows' stored reversals are read: not the JSON of the whole history;
    // each is parsed when its migration is planned.
    const texts = await session.history.reversalTexts(session.db, chunk);
    return async (i) => {
      const row = { ...chunk[i]!, reversal: History.parseReversal(texts[i] ?? null) };
      // A file unchanged since it ran is planned from its history row without importing it:
      // with hundreds of migrations, imports are most of the cost.
      const source = session.source(row.app);
      const file = row.reversal?.operations ? await source.fileOf(row.id) : undefined;
      if (file && canPlanFromHistory(row, file.checksum)) return planFromHistory(row, file.path, "operations");
      return await planBackwardsMigration(row, await source.get(row.id));
    };
  };
  const drops: ColumnDrop[] = [];
  const dataLoss = new DataLossTargets();
  const migrations = await planAll(await select(), prepare, (m) => {
    drops.push(...columnDrops(m));
    dataLoss.add(m);
  }, request.lightAbove ?? LIGHT_ABOVE);
  await refuseDistributionColumnDrops(session, drops);
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
    notices: [
      ...migrations.flatMap((m) => m.warnings.map((w) => `${m.app} ${m.id}: ${w}`)),
      ...(await citusNotices(session, migrations)),
    ],
    reselect: async () => (await select()).map(keyOf),
    dataLoss,
    ...replanning(prepare, (m) => m.history!),
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
  if (picked.length > (request.workerAbove ?? WORKER_ABOVE)) {
    for (const app of apps) {
      await session.source(app).recordAhead(picked.filter((m) => m.app === app).map((m) => m.id));
    }
  }
  // Imports bounded as everywhere in planning: at most 16 under way.
  const prepare: ChunkPlanner<{ app: string; id: string }> = (chunk) =>
    Promise.resolve(async (i) => {
      const { app, id } = chunk[i]!;
      const migration = await session.source(app).get(id);
      if (!migration) throw new PlanError(`Migration ${id} of app ${app} disappeared while planning`);
      return await planForwardsMigrationWith(migration, { retainDropped: session.config.retainDropped }); // retention (issue 15)
    });
  const drops: ColumnDrop[] = [];
  const dataLoss = new DataLossTargets();
  const migrations = await planAll(picked, prepare, (m) => {
    drops.push(...columnDrops(m));
    dataLoss.add(m);
  }, request.lightAbove ?? LIGHT_ABOVE);
  // retention (issue 15): e.g. a retain that a hand-written backwards cannot honour.
  notices.push(...migrations.flatMap((m) => m.warnings.map((w) => `${m.app} ${m.id}: ${w}`)));
  await refuseDistributionColumnDrops(session, drops);
  notices.push(...(await citusNotices(session, migrations)));
  return {
    direction: "forwards",
    apps,
    migrations,
    notices,
    reselect: async () => (await select()).map(keyOf),
    dataLoss,
    ...replanning(prepare, (m) => ({ app: m.app, id: m.id })),
  };
}

/** Citus: the plan says that its migrations run in sequential mode. */
async function citusNotices(session: Session, migrations: readonly PlannedMigration[]): Promise<string[]> {
  return migrations.some((m) => m.transactional) && await isCitus(session.db) ? [SEQUENTIAL_NOTICE] : [];
}

/** A column a migration drops, for the Citus check. */
interface ColumnDrop {
  /** `<app> <id>` of the migration (not the migration: a long plan must not keep it alive). */
  readonly migration: string;
  readonly table: string;
  readonly column: string;
}

/** The columns a planned migration drops (read while it is planned in full). */
function columnDrops(m: PlannedMigration): ColumnDrop[] {
  return m.operations.flatMap((o) =>
    o.rendered.destroys.flatMap((
      d,
    ) => (d.kind === "column" ? [{ migration: `${m.app} ${m.id}`, table: d.table, column: d.column }] : []))
  );
}

/**
 * Citus: a plan that drops a distributed table's distribution column is refused before anything
 * runs (Citus would refuse the statement mid-run, and no reversal could re-add the column).
 */
async function refuseDistributionColumnDrops(session: Session, drops: readonly ColumnDrop[]) {
  if (drops.length === 0) return;
  const found = await distributionColumns(session.db, drops.map((d) => [quoteName(d.table), d.column] as const));
  if (found.length === 0) return;
  throw new PlanError(
    found.map((i) => {
      const d = drops[i]!;
      return `Cannot drop column "${d.table}.${d.column}" (migration ${d.migration}): it is the distribution ` +
        `column of Citus table "${d.table}", which Citus cannot drop. Undistribute the table first ` +
        `(select undistribute_table('${d.table}') in an earlier migration) or drop the whole table`;
    }).join(". ") + ". Nothing was run",
  );
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
  /** As `RunOptions.keepSql`: false drops each outcome's statements once reported. @default true */
  readonly keepSql?: boolean;
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
 * (another run may have gone first), and runs the plan, {@linkcode PLAN_BATCH} migrations
 * planned in full at a time.
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
      const runOptions = {
        fake: options.fake ?? false,
        hooks: options.hooks ?? {},
        atomic: options.atomic ?? false,
        ...(options.safety ? { safety: options.safety } : {}),
        sessionState: held.sessionState,
        guard: () => held.guard(),
        // Under the table lock each migration starts only once its lease is known to be held.
        pipeline: held.kind !== "table",
        keepSql: options.keepSql ?? true,
        ...(options.inDoubt ? { inDoubt: options.inDoubt } : {}),
      };
      // All or nothing needs every migration in the one transaction; otherwise a long plan's
      // listing entries are planned in full one at a time, as they come to run.
      const migrations = options.atomic ? await plan.full(plan.migrations) : plan.migrations;
      return await runPlan(
        session.db,
        session.history,
        { direction: plan.direction, migrations, each: plan.each },
        runOptions,
      );
    });
  } catch (error) {
    if (error instanceof LockTimeoutError) throw new RunError(error.message, { cause: error });
    // runPlan reports a loss during a migration itself: one that gets here came before any.
    if (error instanceof ConnectionLostError) {
      throw new RunError(`${error.message}. No migration was run; run the command again`, { cause: error });
    }
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
      // The run lock, not a bare advisory lock: behind a transaction pooler an advisory lock's
      // unlock may reach another server connection and leave the lock held there.
      stands = await withRunLock(
        session,
        { timeoutMs: lockTimeoutMs, command: `tide ${plan.direction} (preflight re-check)` },
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

/**
 * Lists every migration of one app (or all), files and history rows alike, in ID order,
 * without importing modules: IDs from file names, descriptions from the history row (else
 * the file's text), `changedSinceRun` from checksums (see `MigrationSource.listed`).
 */
export async function migrationStatuses(session: Session, app?: string): Promise<MigrationStatus[]> {
  const apps = app === undefined ? session.config.apps.map((a) => a.name) : [session.app(app).name];
  // The stored reversals are read only for rows whose file is gone, not for the whole history.
  const rows = await session.history.list(session.db, apps, { reversals: false });
  const statuses: MigrationStatus[] = [];
  for (const name of apps) {
    const ran = new Map(rows.filter((r) => r.app === name).map((r) => [r.id, r]));
    const listed = await session.source(name).listed(
      (id) => (ran.get(id)?.description ?? null) === null,
      (id) => ran.get(id)?.checksum,
    );
    const files = new Map(listed.map((f) => [f.id, f]));
    const orphans = new Map(
      (await session.history.withReversals(session.db, [...ran.values()].filter((r) => !files.has(r.id))))
        .map((r) => [r.id, r]),
    );
    const ids = [...new Set([...files.keys(), ...ran.keys()])].sort();
    for (const id of ids) {
      const file = files.get(id);
      const row = ran.get(id);
      statuses.push({
        appName: name,
        migrationId: id,
        description: row?.description ?? file?.description ?? "",
        hasRan: row !== undefined,
        fileMissing: file === undefined,
        ranOn: row?.ranOn ?? null,
        path: file?.path ?? null,
        changedSinceRun: file !== undefined && row?.checksum != null && row.checksum !== file.checksum,
        reversibleFromHistory: file === undefined ? (orphans.get(id)?.reversal?.statements ?? null) !== null : null,
      });
    }
  }
  return statuses;
}
