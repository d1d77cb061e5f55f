/**
 * `--preview`: the plan as a SQL script that `psql -v ON_ERROR_STOP=1 -f` runs to the same
 * effect, one BEGIN/COMMIT per migration with its history row change included.
 *
 * @module
 */

import type { Queryable } from "../db/database.ts";
import { isCitus } from "../catalog/distribution.ts";
import { captureFor } from "../migration/capture.ts";
import { type Capture, CAPTURING_KINDS } from "../migration/operations.ts";
import { renderForwards } from "../migration/render.ts";
import type { DataLoss } from "./data_loss.ts";
import type { History } from "./history.ts";
import type { Plan, PlannedMigration } from "./plan.ts";
import { citusStatements, type DdlSafety, DEFAULT_DDL_SAFETY, safetyStatements, storedReversal } from "./run.ts";

/** One migration of a preview: its statements as they would run. */
export interface PreviewedMigration {
  readonly migration: PlannedMigration;
  /** Statements, history row change included; function steps as `--` comments. */
  readonly statements: readonly string[];
  readonly transactional: boolean;
  /**
   * Where the preview cannot match the run: a drop or alter whose object does not exist yet
   * (an earlier migration of the plan creates it), so nothing could be captured for its
   * history row.
   */
  readonly warnings: readonly string[];
}

/**
 * Renders each planned migration as it would run. Drops and alters forwards are rendered with
 * what the catalog says now (read only), as the run would capture it.
 */
export async function previewPlan(
  db: Queryable & { readonly kind?: string },
  history: History,
  plan: Plan,
  options: { fake?: boolean; safety?: DdlSafety } = {},
): Promise<PreviewedMigration[]> {
  const previews: PreviewedMigration[] = [];
  const citus = await isCitus(db);
  for (const m of plan.migrations) {
    const statements: string[] = [
      ...safetyStatements(options.safety ?? DEFAULT_DDL_SAFETY, m.transactional),
      ...citusStatements(m, citus),
    ];
    const captures: Record<string, Capture> = {};
    const warnings: string[] = [];
    if (!options.fake) {
      for (const unit of m.operations) {
        let rendered = unit.rendered;
        if (unit.direction === "forwards" && unit.op !== undefined && CAPTURING_KINDS.has(unit.op.kind)) {
          const capture = await captureFor(db, unit.op);
          if (capture !== undefined) captures[String(rendered.index)] = capture;
          // A preview runs nothing, so an object that an earlier step of the plan creates is
          // not in the catalog yet: the real run captures it, this script's history row
          // cannot. Say so rather than print a script that silently differs from the run.
          else {
            warnings.push(
              `${rendered.summary}: its object does not exist yet, so the preview cannot capture what reversing it needs; ` +
                "this script records the migration without that capture (run tide itself, or preview it after the earlier migrations ran)",
            );
          }
          rendered = renderForwards(unit.op, rendered.index, capture);
        }
        for (const step of rendered.steps) {
          statements.push("sql" in step ? step.sql : `-- ${step.label} (runs JavaScript, not shown)`);
        }
      }
    }
    statements.push(
      m.direction === "forwards"
        ? history.insertStatement(
          m.app,
          m.id,
          m.description,
          m.migration?.checksum ?? null,
          storedReversal(m, captures, options.fake ?? false),
        )
        : history.deleteStatement(m.app, m.id),
    );
    previews.push({ migration: m, statements, transactional: m.transactional, warnings });
  }
  return previews;
}

/**
 * The preview as one SQL script; `header` lines become leading comments, and each migration's
 * data-loss findings comments above it.
 */
export function previewScript(
  history: History,
  direction: Plan["direction"],
  previews: readonly PreviewedMigration[],
  header: readonly string[],
  dataLoss: readonly DataLoss[] = [],
): string {
  const lines = header.map((h) => `-- ${h}`);
  if (direction === "forwards") {
    lines.push("", "-- the history table, as tide creates it when needed");
    lines.push(...history.ensureStatements().map(terminate));
  }
  for (const p of previews) {
    const m = p.migration;
    lines.push("", `-- ${m.app} ${m.id}${m.description ? `: ${oneLine(m.description)}` : ""}`);
    for (const o of m.operations) for (const note of o.rendered.notes) lines.push(`-- note: ${note}`);
    for (const n of m.notRestored) lines.push(`-- not restored: ${n.object}: ${oneLine(n.what)}`);
    for (const warning of [...m.warnings, ...p.warnings]) lines.push(`-- warning: ${oneLine(warning)}`);
    for (const f of dataLoss.filter((d) => d.migration === `${m.app} ${m.id}`)) {
      lines.push(
        `-- data loss: ${f.object}: ${f.rows}${f.estimated ? " (estimate)" : ""}${
          f.detail ? ` — ${oneLine(f.detail)}` : ""
        }`,
      );
    }
    if (!p.transactional) lines.push("-- runs outside a transaction: a CONCURRENTLY step cannot run inside one");
    if (p.transactional) lines.push("BEGIN;");
    lines.push(...p.statements.map(terminate));
    if (p.transactional) lines.push("COMMIT;");
  }
  return lines.join("\n") + "\n";
}

function terminate(statement: string): string {
  if (statement.startsWith("-- ")) return statement;
  return statement.replace(/[\s;]+$/, "") + ";";
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
