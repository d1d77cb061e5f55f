/**
 * Text and JSON for the CLI: plans, progress, results and statuses.
 *
 * @module
 */

import type { MigrationStatus } from "../engine/commands.ts";
import type { DataLoss } from "../engine/data_loss.ts";
import type { PlannedMigration } from "../engine/plan.ts";
import type { MigrationOutcome, RunResult } from "../engine/run.ts";

/** The JSON document of `forwards`/`backwards --json` (SPEC 4). */
export interface RunJson {
  success: boolean;
  message: string | null;
  migrations: {
    app: string;
    id: string;
    description: string;
    status: MigrationOutcome["status"];
    durationMs: number;
    sql: string[];
    error?: string;
  }[];
  /** The preflight's findings, when there are any. */
  dataLoss?: DataLoss[];
  /** What the reversals cannot restore, when there is anything. */
  notRestored?: { migration: string; object: string; what: string }[];
}

/**
 * Builds the `--json` document from outcomes. `dataLoss` appears only when the preflight found
 * something, so that the usual document has exactly SPEC 4's fields.
 */
export function runJson(
  success: boolean,
  message: string | null,
  outcomes: readonly MigrationOutcome[],
  dataLoss: readonly DataLoss[] = [],
  notRestored: readonly { migration: string; object: string; what: string }[] = [],
): RunJson {
  return {
    success,
    message,
    migrations: outcomes.map((o) => ({
      app: o.app,
      id: o.id,
      description: o.description,
      status: o.status,
      durationMs: o.durationMs,
      sql: [...o.sql],
      ...(o.error ? { error: o.error.message } : {}),
    })),
    ...(dataLoss.length > 0 ? { dataLoss: [...dataLoss] } : {}),
    ...(notRestored.length > 0 ? { notRestored: [...notRestored] } : {}),
  };
}

/** Lines listing a plan before the prompt: each migration and what will not come back. */
export function planLines(migrations: readonly PlannedMigration[]): string[] {
  const lines: string[] = [];
  for (const m of migrations) {
    lines.push(
      `  ${m.app} ${m.id}${m.description ? `  ${m.description}` : ""}${
        m.source === "operations" ? "" : `  [reversal: ${m.source}]`
      }`,
    );
    if (m.operations.length === 0) lines.push("      records no operations: nothing to run but the history row");
    for (const o of m.operations) {
      // Each step's reversal source, so nobody mistakes a stand-in for the real thing.
      if (m.direction === "backwards") {
        lines.push(`      ${o.rendered.summary}: ${sourceWords(o.rendered.source, m.source)}`);
      }
      for (const note of o.rendered.notes) lines.push(`      note: ${note}`);
      for (const n of o.rendered.notRestored ?? []) lines.push(`      not restored: ${n.object}: ${n.what}`);
      for (const d of o.rendered.destroys) {
        if (d.kind === "table") lines.push(`      drops table "${d.table}" and its rows`);
        else if (d.kind === "column") lines.push(`      drops column "${d.table}.${d.column}" and its values`);
        else lines.push(`      casts column "${d.table}.${d.column}" to ${d.type}`);
      }
    }
    if (!m.transactional) lines.push("      runs outside a transaction (CONCURRENTLY)");
    for (const w of m.warnings) lines.push(`      warning: ${w}`);
  }
  return lines;
}

/** The preflight's findings, one line each, for the prompt and stderr. */
export function dataLossLines(findings: readonly DataLoss[]): string[] {
  return [
    "Data that this plan destroys (measured now):",
    ...findings.map((f) =>
      `  ${f.migration}: ${f.object}: ${f.rows} ${
        f.object.startsWith("column") || f.object.startsWith("cast") ? "value(s)" : "row(s)"
      }` +
      `${f.estimated ? " (estimate from the catalog)" : ""}${f.detail ? ` — ${f.detail}` : ""}`
    ),
  ];
}

function sourceWords(step: string, migration: string): string {
  if (migration === "stored") return "the SQL stored with its history row";
  if (migration === "hand-written") return "the module's hand-written backwards";
  return {
    operation: "inverted operation",
    "raw backwards": "its raw backwards step",
    "none needed": "covered by addRawBackwards",
    "hand-written": "hand-written",
  }[step] ?? step;
}

/** One progress line for a finished migration. */
export function outcomeLine(o: MigrationOutcome): string {
  const verb = {
    applied: "applied",
    reversed: "reversed",
    faked: "faked",
    previewed: "previewed",
    failed: "FAILED",
    "not-run": "not run",
  }[o.status];
  return `${verb.padEnd(8)} ${o.app} ${o.id}${o.description ? `  ${o.description}` : ""} (${formatMs(o.durationMs)})`;
}

/** Milliseconds for people. */
export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

/** The one-line summary of a run. */
export function summary(result: RunResult, verb: "Reversed" | "Applied" | "Faked", totalMs: number): string {
  const done = result.outcomes.filter((o) => o.status !== "failed" && o.status !== "not-run").length;
  return `${verb} ${done} migration(s) in ${formatMs(totalMs)}`;
}

/** `check`'s table. */
export function statusTable(statuses: readonly MigrationStatus[]): string {
  const rows = statuses.map((s) => [
    s.appName,
    s.migrationId,
    s.description,
    s.hasRan
      ? s.fileMissing
        ? `yes (file missing, ${s.reversibleFromHistory ? "reversible from history" : "needs the source"})`
        : s.changedSinceRun
        ? "yes (file changed since it ran)"
        : "yes"
      : "no",
  ]);
  const header = ["APP", "ID", "DESCRIPTION", "RAN"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

/** What the plan's reversals cannot restore, one line each, for stderr (e.g. with --auto-agree). */
export function notRestoredLines(migrations: readonly PlannedMigration[]): string[] {
  const lines = migrations.flatMap((m) => m.notRestored.map((n) => `  ${m.app} ${m.id}: ${n.object}: ${n.what}`));
  return lines.length ? ["Not restored by these reversals:", ...lines] : [];
}
