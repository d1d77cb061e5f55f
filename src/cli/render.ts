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
    /** Said about a migration that is done, e.g. the connection was lost at its COMMIT. */
    note?: string;
  }[];
  /** The preflight's findings, when there are any. */
  dataLoss?: DataLoss[];
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
      ...(o.note ? { note: o.note } : {}),
    })),
    ...(dataLoss.length > 0 ? { dataLoss: [...dataLoss] } : {}),
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
    unknown: "UNKNOWN",
  }[o.status];
  return `${verb.padEnd(8)} ${o.app} ${o.id}${o.description ? `  ${o.description}` : ""} (${formatMs(o.durationMs)})`;
}

/** Milliseconds for people. */
export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

/** The one-line summary of a run. */
export function summary(result: RunResult, verb: "Reversed" | "Applied" | "Faked", totalMs: number): string {
  const done = result.outcomes.filter((o) => o.status !== "failed" && o.status !== "not-run" && o.status !== "unknown")
    .length;
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
