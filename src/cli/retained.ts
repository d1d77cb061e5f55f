/**
 * `tide retained [app]` and `tide purge [app] [MIGRATION_ID] [--older-than DURATION]` (issue
 * 15): what retained drops hold, and dropping it for good after a confirmation.
 *
 * @module
 */

import { listRetained, parseAge, purgeRetained, type RetainedEntry, selectPurge } from "../engine/retained.ts";
import type { Session } from "../engine/session.ts";
import { UsageError } from "../errors.ts";
import type { RetainedFinding } from "../retention/preflight.ts";
import { type GlobalOptions, open, parseDuration, printJson } from "./common.ts";
import type { Io } from "./io.ts";
import { confirm } from "./prompt.ts";

/** Bytes for people: `8.0 kB`, `1.2 MB`. */
export function formatBytes(bytes: number): string {
  const units = ["bytes", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A plan's retained objects, one line each, for stderr before a run (issue 15). */
export function retainedLines(findings: readonly RetainedFinding[]): string[] {
  return [
    "Data that this plan retains (not lost: tide backwards restores it until tide purge):",
    ...findings.map((f) =>
      `  ${f.migration}: ${f.object}: ${f.rows} row(s)${f.estimated ? " (estimate from the catalog)" : ""}, ${
        formatBytes(f.bytes)
      }${f.object.startsWith("column") ? " (its copy reads the whole table)" : ""}`
    ),
  ];
}

/** The table of retained objects. */
export function retainedTable(entries: readonly RetainedEntry[]): string {
  const rows = entries.map((e) => [
    e.app || "-",
    e.migration || "-",
    e.object,
    `${e.rows}${e.estimated ? " (estimate)" : ""}`,
    formatBytes(e.bytes),
    e.since || "-",
    e.missing ? `${e.held} (MISSING: dropped outside tide)` : e.held,
  ]);
  const header = ["APP", "MIGRATION", "OBJECT", "ROWS", "SIZE", "SINCE", "HELD AS"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

/** Runs `retained`; returns the exit code. */
export async function retainedCommand(io: Io, app: string | undefined, options: GlobalOptions): Promise<number> {
  const session = await open(io, options, true);
  try {
    const entries = await listRetained(session, app);
    if (options.json) printJson(io, { success: true, retained: entries });
    else if (entries.length === 0) io.out("Nothing is retained\n");
    else io.out(retainedTable(entries));
    return 0;
  } finally {
    await session.close();
  }
}

/** Options of `purge`. */
export interface PurgeOptions extends GlobalOptions {
  autoAgree?: boolean;
  olderThan?: string;
  lockTimeout?: string;
}

/** `purge ID` with no app: the one positional is an app when one has that name, else an ID. */
function resolveRequest(session: Session, first: string | undefined, second: string | undefined) {
  if (first !== undefined && second === undefined && !session.config.apps.some((a) => a.name === first)) {
    return { app: undefined, migrationId: first };
  }
  if (first !== undefined) session.app(first); // an unknown app: exit 1 naming the apps
  return { app: first, migrationId: second };
}

/** Runs `purge`; returns the exit code. */
export async function purgeCommand(
  io: Io,
  first: string | undefined,
  second: string | undefined,
  options: PurgeOptions,
): Promise<number> {
  let olderThanMs: number | undefined;
  if (options.olderThan !== undefined) {
    olderThanMs = parseAge(options.olderThan);
    if (olderThanMs === undefined) {
      throw new UsageError(`Invalid --older-than "${options.olderThan}": use e.g. 30d, 12h, 2w, 90m or 45s`);
    }
  }
  const lockTimeoutMs = parseDuration(options.lockTimeout ?? "10s");
  const session = await open(io, options);
  try {
    const request = { ...resolveRequest(session, first, second), olderThanMs };
    const entries = await selectPurge(session, request);
    const report = (success: boolean, message: string, purged: readonly RetainedEntry[]) => {
      if (options.json) printJson(io, { success, message, purged });
      else if (success) io.out(`${message}\n`);
      else io.out(`${message}\n`);
      return success ? 0 : 1;
    };
    if (entries.length === 0) {
      return report(
        true,
        request.migrationId ? `Nothing retained by migration ${request.migrationId}` : "Nothing to purge",
        [],
      );
    }
    io.err(
      `About to drop for good ${entries.length} retained object(s); backwards of their migrations will then restore structure only:\n${
        retainedTable(entries)
      }`,
    );
    if (!options.autoAgree && !(await confirm(io, `Purge ${entries.length} retained object(s)?`))) {
      return report(false, "Not proceeding.", []);
    }
    const purged = await purgeRetained(session, entries, { lockTimeoutMs });
    const bytes = purged.reduce((sum, e) => sum + e.bytes, 0);
    return report(true, `Purged ${purged.length} retained object(s), ${formatBytes(bytes)}`, purged);
  } finally {
    await session.close();
  }
}
