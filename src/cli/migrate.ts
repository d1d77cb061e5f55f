/**
 * `tide backwards` and `tide forwards`: plan, preview or confirm, run, report. They differ
 * only in planning, in the prompt (backwards asks) and in `--clean`/`--fake`.
 *
 * @module
 */

import { rm } from "node:fs/promises";
import { type CommandPlan, executePlan, planBackwards, planForwards } from "../engine/commands.ts";
import { type DataLoss, measureDataLoss } from "../engine/data_loss.ts";
import { previewPlan, previewScript } from "../engine/preview.ts";
import type { DdlSafety } from "../engine/run.ts";
import type { Session } from "../engine/session.ts";
import { parseTarget, type Target } from "../engine/target.ts";
import { UsageError } from "../errors.ts";
import { type GlobalOptions, open, parseDuration, printJson } from "./common.ts";
import type { Io } from "./io.ts";
import { confirm } from "./prompt.ts";
import { planNotRestored } from "../engine/plan.ts";
import { dataLossLines, notRestoredLines, outcomeLine, planLines, runJson, summary } from "./render.ts";

/** Options of `backwards` and `forwards`, as `parseArgs` hands them over. */
export interface MigrateOptions extends GlobalOptions {
  migrationId?: string;
  autoAgree?: boolean;
  clean?: boolean;
  preview?: boolean;
  fake?: boolean;
  lockTimeout?: string;
  atomic?: boolean;
  ddlLockTimeout?: string;
  ddlRetries?: string;
  statementTimeout?: string;
  forbidDataLoss?: boolean;
}

function parseSafety(options: MigrateOptions): DdlSafety {
  const retries = Number(options.ddlRetries ?? "3");
  if (!Number.isInteger(retries) || retries < 0) {
    throw new UsageError(`Invalid --ddl-retries "${options.ddlRetries}": give a whole number, 0 or more`);
  }
  return {
    lockTimeoutMs: parseDuration(options.ddlLockTimeout ?? "5s"),
    retries,
    statementTimeoutMs: options.statementTimeout ? parseDuration(options.statementTimeout) : undefined,
  };
}

/** Runs `backwards` or `forwards`; returns the exit code. */
export async function migrate(
  io: Io,
  direction: "backwards" | "forwards",
  app: string,
  positionalId: string | undefined,
  options: MigrateOptions,
): Promise<number> {
  const target = resolveTarget(direction, positionalId, options.migrationId);
  const lockTimeoutMs = parseDuration(options.lockTimeout ?? "10s");
  const safety = parseSafety(options);
  const session = await open(io, options, options.preview === true);
  try {
    const plan = direction === "backwards"
      ? await planBackwards(session, { app, target })
      : await planForwards(session, { app, target });
    for (const notice of plan.notices) io.err(`warning: ${notice}\n`);
    if (plan.migrations.length === 0) return nothingToDo(io, direction, plan, options);
    // The preflight: what would be destroyed, measured before anything runs or is asked.
    const dataLoss = options.fake ? [] : await measureDataLoss(session.db, plan);
    if (dataLoss.length > 0 && (options.forbidDataLoss || session.config.forbidDataLoss)) {
      return refuseDataLoss(io, dataLoss, options);
    }
    if (options.preview) return await preview(io, session, plan, options, safety, dataLoss);
    if (direction === "backwards" && !options.autoAgree) {
      const declined = await ask(io, plan, dataLoss);
      if (declined !== undefined) return declined(options, dataLoss);
    } else {
      // --auto-agree agrees to the data loss too, but it is said first; so is what will not come back.
      if (dataLoss.length > 0) io.err(`${dataLossLines(dataLoss).join("\n")}\n`);
      const lost = notRestoredLines(plan.migrations);
      if (lost.length > 0) io.err(`${lost.join("\n")}\n`);
    }
    return await run(io, session, plan, options, lockTimeoutMs, safety, dataLoss);
  } finally {
    await session.close();
  }
}

function resolveTarget(direction: string, positional: string | undefined, flag: string | undefined): Target {
  if (positional !== undefined && flag !== undefined && positional !== flag) {
    throw new UsageError(`Give the migration ID once: got "${positional}" and --migration-id "${flag}"`);
  }
  const text = positional ?? flag ?? (direction === "backwards" ? "1" : "all");
  try {
    return parseTarget(text);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function refuseDataLoss(io: Io, dataLoss: readonly DataLoss[], options: MigrateOptions): number {
  const message =
    `Refused by --forbid-data-loss: the plan would destroy data (${dataLoss.length} finding(s)); nothing was run`;
  if (options.json) printJson(io, runJson(false, message, [], dataLoss));
  io.err(`${dataLossLines(dataLoss).join("\n")}\nError: ${message}\n`);
  return 1;
}

function nothingToDo(io: Io, direction: string, plan: CommandPlan, options: MigrateOptions): number {
  const message = direction === "backwards"
    ? "No migrations to reverse"
    : plan.notices.find((n) => n.includes("has already run")) ?? "No migrations to run";
  if (options.json) printJson(io, runJson(true, message, []));
  else io.out(`${message}\n`);
  return 0;
}

async function preview(
  io: Io,
  session: Session,
  plan: CommandPlan,
  options: MigrateOptions,
  safety: DdlSafety,
  dataLoss: readonly DataLoss[],
): Promise<number> {
  const previews = await previewPlan(session.db, session.history, plan, { fake: options.fake ?? false, safety });
  // Where the script cannot match the run, say so on stderr too (not only in a comment).
  for (const p of previews) for (const w of p.warnings) io.err(`warning: ${p.migration.app} ${p.migration.id}: ${w}\n`);
  if (options.json) {
    printJson(
      io,
      runJson(
        true,
        "Preview only: nothing was changed",
        previews.map((p) => ({
          app: p.migration.app,
          id: p.migration.id,
          description: p.migration.description,
          status: "previewed",
          durationMs: 0,
          sql: [...p.statements],
        })),
        dataLoss,
        planNotRestored(plan.migrations),
      ),
    );
  } else {
    const verb = plan.direction === "backwards" ? "reverse" : "apply";
    io.err(
      `Preview: would ${verb} ${plan.migrations.length} migration(s) on ${session.databaseLabel}; nothing is changed\n`,
    );
    io.out(previewScript(session.history, plan.direction, previews, [
      `tide ${plan.direction} preview: ${plan.migrations.length} migration(s) of ${plan.apps.join(", ")}`,
      `database: ${session.databaseLabel}`,
    ], dataLoss));
  }
  return 0;
}

/** Asks for agreement; returns undefined to go on, or what to do when declined. */
async function ask(
  io: Io,
  plan: CommandPlan,
  dataLoss: readonly DataLoss[],
): Promise<((o: MigrateOptions, dataLoss: readonly DataLoss[]) => number) | undefined> {
  const apps = plan.apps.length > 1 ? `apps ${plan.apps.join(", ")}` : `app ${plan.apps[0]}`;
  io.err(
    `About to reverse ${plan.migrations.length} migration(s) of ${apps}, most recently run first:\n${
      planLines(plan.migrations).join("\n")
    }\n`,
  );
  if (dataLoss.length > 0) io.err(`${dataLossLines(dataLoss).join("\n")}\n`);
  if (await confirm(io, `Reverse ${plan.migrations.length} migration(s)?`)) return undefined;
  return (options, dataLoss) => {
    if (options.json) printJson(io, runJson(false, "Not proceeding.", [], dataLoss, planNotRestored(plan.migrations)));
    else io.out("Not proceeding.\n");
    return 1;
  };
}

async function run(
  io: Io,
  session: Session,
  plan: CommandPlan,
  options: MigrateOptions,
  lockTimeoutMs: number,
  safety: DdlSafety,
  dataLoss: readonly DataLoss[],
): Promise<number> {
  const started = performance.now();
  const cleaned: string[] = [];
  const result = await executePlan(session, plan, {
    lockTimeoutMs,
    safety,
    atomic: options.atomic ?? false,
    fake: options.fake ?? false,
    hooks: {
      onEnd: (m, outcome) => {
        io.err(outcomeLine(outcome) + "\n");
        if (options.clean && outcome.status === "reversed" && m.path) cleaned.push(m.path);
      },
    },
  });
  // --clean deletes a file only once its reversal has committed.
  for (const path of cleaned) {
    await rm(path, { force: true });
    io.err(`deleted  ${path}\n`);
  }
  const failure = result.outcomes.find((o) => o.error)?.error;
  const verb = plan.direction === "backwards" ? "Reversed" : options.fake ? "Faked" : "Applied";
  const message = failure ? failure.message : summary(result, verb, performance.now() - started);
  if (options.json) {
    printJson(io, runJson(result.success, message, result.outcomes, dataLoss, planNotRestored(plan.migrations)));
  } else if (failure) io.err(`Error: ${failure.message}\n`);
  else io.out(`${message}\n`);
  return result.success ? 0 : 1;
}
