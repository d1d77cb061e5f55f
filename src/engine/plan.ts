/**
 * Turns selected migrations into a frozen plan: for each migration, the operations in the
 * order they will run, rendered to SQL, with what cannot be reversed named before anything
 * runs.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { type LoadedMigration, recordOperations } from "../loader/load.ts";
import type { Operation } from "../migration/operations.ts";
import { type NotRestored, renderBackwards, type RenderedOperation, renderForwards } from "../migration/render.ts";
import type { DataLossTargets } from "./data_loss.ts";
import type { HistoryRow } from "./history.ts";
import { resolveRetain, withoutRetain } from "../retention/plan.ts";

/** Which way a plan goes. */
export type Direction = "forwards" | "backwards";

/** One operation of a planned migration. */
export interface PlannedOperation {
  /** The recorded operation; undefined for a reversal stored in the history row. */
  readonly op: Operation | undefined;
  /** The direction the operation itself runs (a hand-written backwards runs its ops forwards). */
  readonly direction: Direction;
  readonly rendered: RenderedOperation;
}

/** Where a backwards migration's reversal comes from. */
export type PlanSource = "operations" | "hand-written" | "stored";

/** One migration of a plan. */
export interface PlannedMigration {
  readonly app: string;
  readonly id: string;
  readonly description: string;
  readonly direction: Direction;
  /** The module, when it was imported. */
  readonly migration: LoadedMigration | undefined;
  /** The file, when it exists (for --clean). */
  readonly path: string | undefined;
  /** The history row (backwards only). */
  readonly history: HistoryRow | undefined;
  readonly source: PlanSource;
  /** Operations in execution order. */
  readonly operations: readonly PlannedOperation[];
  /** Why the migration cannot run in this direction; empty when it can. */
  readonly irreversible: readonly string[];
  /** False when a step must commit on its own (CONCURRENTLY): the migration then runs unwrapped. */
  readonly transactional: boolean;
  /** Things worth knowing before agreeing, e.g. an edited file. */
  readonly warnings: readonly string[];
  /** What its reversal cannot restore (backwards), from its operations' captures. */
  readonly notRestored: readonly NotRestored[];
  /**
   * Set on a listing entry of a long plan ({@linkcode lighten}): its SQL was dropped to keep the
   * plan small, and it must be planned again (and match `fingerprint`) before it runs or is
   * previewed.
   */
  readonly light?: true;
  /** What the entry's steps were, hashed, when it was lightened. */
  readonly fingerprint?: string;
}

/** A frozen, ordered list of migrations to run in one direction. */
export interface Plan {
  readonly direction: Direction;
  readonly migrations: readonly PlannedMigration[];
  /** The given migrations in full, one at a time: listing entries (`light`) planned again; see `CommandPlan.each`. */
  readonly each?: (migrations: readonly PlannedMigration[]) => AsyncGenerator<PlannedMigration>;
  /** What its steps destroy, collected while it was planned (the preflight then plans nothing again). */
  readonly dataLoss?: DataLossTargets | undefined;
}

/** Plans one migration forwards. */
export function planForwardsMigration(migration: LoadedMigration): Promise<PlannedMigration> {
  return planForwardsMigrationWith(migration, {});
}

/**
 * Plans one migration forwards with the project's defaults.
 *
 * @param defaults `retainDropped` of tide.json (retention, issue 15).
 */
export async function planForwardsMigrationWith(
  migration: LoadedMigration,
  defaults: { readonly retainDropped?: boolean },
): Promise<PlannedMigration> {
  const manager = await recordOperations(migration, "forwards");
  // retention (issue 15): decide each drop's `retain` now; it is stored with the operations.
  const resolved = resolveRetain(
    manager.operations,
    defaults.retainDropped ?? false,
    migration.module.backwards !== undefined,
  );
  const operations = resolved.operations.map((op, index) => ({
    op,
    direction: "forwards" as const,
    rendered: renderForwards(op, index),
  }));
  return finish({
    app: migration.app,
    id: migration.id,
    description: migration.description,
    direction: "forwards",
    migration,
    path: migration.path,
    history: undefined,
    source: "operations",
    operations,
    warnings: resolved.warnings,
  });
}

/**
 * Plans the reversal of one run migration: the module's hand-written `backwards` if it has
 * one, else its recorded operations inverted in reverse order; when the file is gone or was
 * edited since it ran, what its history row stored when it ran.
 */
export async function planBackwardsMigration(
  row: HistoryRow,
  migration: LoadedMigration | undefined,
): Promise<PlannedMigration> {
  const base = {
    app: row.app,
    id: row.id,
    description: migration?.description ?? row.description ?? "",
    direction: "backwards" as const,
    migration,
    path: migration?.path,
    history: row,
  };
  const edited = migration !== undefined && row.checksum !== null && row.checksum !== migration.checksum;
  const storedOps = row.reversal?.operations ?? null;
  const stored = row.reversal?.statements ?? null;
  if (migration === undefined || (edited && (storedOps !== null || stored !== null))) {
    const warnings = edited
      ? [`${migration!.path} changed since it ran; reversing what was applied (stored with its history row)`]
      : [`the file of migration ${row.id} is gone; reversing it from its history row`];
    if (storedOps !== null) return planFromHistory(row, migration?.path, "stored", warnings);
    if (stored === null) {
      return finish({
        ...base,
        source: "stored",
        operations: [],
        warnings: [],
        irreversible: [
          `the file of migration "${row.id}" is missing from app "${row.app}" and its history row holds no SQL reversal: restore the file`,
        ],
      });
    }
    // A row written before operations were stored: its SQL, as one step.
    return finish({
      ...base,
      source: "stored",
      warnings,
      operations: [{
        op: undefined,
        direction: "backwards",
        rendered: {
          index: 0,
          summary: "reversal stored when it ran",
          steps: stored.map((sql) => ({ sql })),
          transactional: !stored.some(isConcurrent),
          source: "operation",
          notes: [],
          destroys: [],
        },
      }],
    });
  }
  const warnings = edited
    ? [`${migration.path} changed since it ran and no SQL reversal was stored; reversing with the current file`]
    : [];
  if (migration.module.backwards !== undefined) {
    const manager = await recordOperations(migration, "backwards");
    return finish({
      ...base,
      source: "hand-written",
      warnings,
      operations: withoutRetain(manager.operations).map((op, index) => ({
        op,
        direction: "forwards" as const,
        rendered: { ...renderForwards(op, index), source: "hand-written" as const },
      })),
    });
  }
  const manager = await recordOperations(migration, "forwards");
  return finish({ ...base, source: "operations", warnings, operations: invert(manager.operations, row) });
}

/** Whether a run migration can be planned from its history row alone (its file unchanged). */
export function canPlanFromHistory(row: HistoryRow, fileChecksum: string): boolean {
  return (row.reversal?.operations ?? null) !== null && row.checksum !== null && row.checksum === fileChecksum;
}

/**
 * Plans a reversal from the operations and captures stored with the history row: the same
 * plan the module would give, without importing it. Used when the file is unchanged since it
 * ran (checksum), and when it is gone or edited.
 */
export function planFromHistory(
  row: HistoryRow,
  path: string | undefined,
  source: "operations" | "stored",
  warnings: string[] = [],
): PlannedMigration {
  return finish({
    app: row.app,
    id: row.id,
    description: row.description ?? "",
    direction: "backwards",
    migration: undefined,
    path,
    history: row,
    source,
    warnings,
    operations: invert(row.reversal?.operations ?? [], row),
  });
}

function invert(ops: readonly Operation[], row: HistoryRow): PlannedOperation[] {
  const covered = ops.some((op) => op.kind === "rawBackwards");
  const captures = row.reversal?.captures ?? {};
  return ops.map((op, index) => ({
    op,
    direction: "backwards" as const,
    rendered: renderBackwards(op, index, captures[String(index)], covered),
  })).reverse();
}

function isConcurrent(sql: string): boolean {
  return /^\s*(CREATE (UNIQUE )?INDEX|DROP INDEX) CONCURRENTLY/i.test(sql);
}

function finish(
  m: Omit<PlannedMigration, "irreversible" | "transactional" | "notRestored"> & { irreversible?: string[] },
): PlannedMigration {
  const irreversible = m.irreversible ??
    m.operations.flatMap((o) => (o.rendered.irreversible ? [o.rendered.irreversible] : []));
  return Object.freeze({
    ...m,
    irreversible,
    transactional: m.operations.every((o) => o.rendered.transactional),
    notRestored: m.operations.flatMap((o) => o.rendered.notRestored ?? []),
  });
}

/** Every SQL statement of a planned migration, with function steps as comments. */
export function plannedStatements(m: PlannedMigration): string[] {
  return m.operations.flatMap((o) =>
    o.rendered.steps.map((s) => ("sql" in s ? s.sql : `-- ${s.label} (runs JavaScript, not shown)`))
  );
}

/** What a plan's reversals cannot restore, per migration (`<app> <id>`), for `--json`. */
export function planNotRestored(
  migrations: readonly PlannedMigration[],
): { migration: string; object: string; what: string }[] {
  return migrations.flatMap((m) => m.notRestored.map((n) => ({ migration: `${m.app} ${m.id}`, ...n })));
}

/**
 * A listing entry of a planned migration, for long plans: what the plan check, the lock's
 * re-selection, the progress hooks and the results need (app, ID, description, path, its
 * history row without the stored reversal, warnings, whether it is transactional), and no
 * operations. Everything that reads operations (the prompt's listing, the data-loss
 * preflight, preview, run) plans it again through `Plan.full`, batch by batch, and
 * {@linkcode fingerprint} says whether that gave what was checked.
 *
 * @param row the history row as listed (without its stored reversal), to keep rather than a copy
 */
export function lighten(m: PlannedMigration, row?: HistoryRow): PlannedMigration {
  return Object.freeze({
    ...m,
    history: row ?? (m.history === undefined ? undefined : { ...m.history, reversal: null }),
    migration: m.migration,
    operations: [],
    light: true as const,
    fingerprint: fingerprint(m),
  });
}

/**
 * The migrations of a plan in full, one at a time, in plan order: listing entries are planned
 * again (see `CommandPlan.each`).
 */
export async function* eachPlanned(plan: Plan): AsyncGenerator<PlannedMigration> {
  if (plan.each && plan.migrations.some((m) => m.light)) yield* plan.each(plan.migrations);
  else yield* plan.migrations;
}

/** A hash of what a planned migration would run: each step's SQL (or label) and its wrapping. */
export function fingerprint(m: PlannedMigration): string {
  const hash = createHash("sha1").update(`${m.app}\0${m.id}\0${m.direction}\0${m.transactional}\0${m.source}`);
  for (const o of m.operations) {
    hash.update(`\0op${o.rendered.index}${o.rendered.transactional ? "t" : "n"}`);
    for (const step of o.rendered.steps) hash.update("sql" in step ? `\0s${step.sql}` : `\0f${step.label}`);
  }
  return hash.digest("hex");
}
