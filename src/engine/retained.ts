/**
 * `tide retained` and `tide purge` (issue 15) as data in and data out: what retained drops hold,
 * read from the history rows' captures and measured on the live database; and purging them for
 * good, which turns those migrations' backwards into the structure-only reversal.
 *
 * @module
 */

import { withRunLock } from "./run_lock.ts";
import type { Queryable } from "../db/database.ts";
import { LockTimeoutError } from "../db/database.ts";
import { RunError } from "../errors.ts";
import type { Capture, ColumnDropCapture, TableCapture } from "../migration/operations.ts";
import { quoteLiteral } from "../migration/quote.ts";
import { renderBackwards } from "../migration/render.ts";
import { RETAINED_SCHEMA, type Retention } from "../retention/model.ts";
import { dropRetainedSchemaIfEmpty, heldName } from "../retention/render.ts";
import type { HistoryRow, StoredReversal } from "./history.ts";
import type { Session } from "./session.ts";

/** One retained object: what was dropped, where it is held, how much. */
export interface RetainedEntry {
  readonly app: string;
  readonly migration: string;
  readonly description: string;
  readonly kind: "table" | "column";
  /** What the migration dropped, e.g. `table public.band` or `column public.customer.vat_id`. */
  readonly object: string;
  /** Where it is held, e.g. `tide_retained.r0123456789_0_band`. */
  readonly held: string;
  /** Rows held (the catalog's estimate above a million: see `estimated`). */
  readonly rows: number;
  readonly estimated: boolean;
  /** Bytes held, indexes, TOAST and partitions included. */
  readonly bytes: number;
  /** When the migration that retained it ran (ISO 8601). */
  readonly since: string;
  /** The held copy is not in the database (dropped by hand): backwards will fail on it. */
  readonly missing: boolean;
  /** Index of the operation in its migration. */
  readonly operation: number;
}

function retentionOf(capture: Capture | undefined): Retention | undefined {
  if (capture?.kind !== "table" && capture?.kind !== "column") return undefined;
  const r = capture.retained;
  return r && r.kind !== "not-retained" && r.purgedAt === undefined ? r : undefined;
}

/** What a history row holds, without measuring. */
function heldBy(
  row: HistoryRow,
): { index: number; capture: TableCapture | ColumnDropCapture; retention: Retention }[] {
  const captures = row.reversal?.captures ?? {};
  return Object.entries(captures).flatMap(([index, capture]) => {
    const retention = retentionOf(capture);
    return retention && (capture.kind === "table" || capture.kind === "column")
      ? [{ index: Number(index), capture, retention }]
      : [];
  }).sort((a, b) => a.index - b.index);
}

/** Measures held tables: rows (counted below a million by the catalog) and total bytes. */
async function measure(db: Queryable, names: readonly string[]) {
  if (names.length === 0) return [];
  const rows = await db.query<{ i: number; found: boolean; reltuples: number | null; bytes: string | null }>(
    `select t.i::int as i, c.oid is not null as found, c.reltuples::float8 as reltuples,
            case when c.relkind = 'p'
              then (select sum(pg_total_relation_size(p.relid))::int8::text from pg_partition_tree(c.oid) p)
              else pg_total_relation_size(c.oid)::text end as bytes
       from unnest($1::text[]) with ordinality as t(name, i)
       left join pg_class c on c.relname = t.name and c.relnamespace = (select oid from pg_namespace where nspname = $2)
      order by t.i`,
    [names, RETAINED_SCHEMA],
  );
  const exact = rows.filter((r) => r.found && Number(r.reltuples ?? -1) < 1_000_000);
  const counts = new Map<number, number>();
  if (exact.length > 0) {
    const counted = await db.query<{ i: number; n: number }>(
      exact.map((r) => `select ${r.i}::int as i, count(*)::float8 as n from ${heldName(names[r.i - 1]!)}`).join(
        "\nunion all\n",
      ),
    );
    for (const c of counted) counts.set(Number(c.i), Number(c.n));
  }
  return rows.map((r) => ({
    found: Boolean(r.found),
    rows: counts.get(Number(r.i)) ?? Math.max(0, Math.round(Number(r.reltuples ?? 0))),
    estimated: r.found && !counts.has(Number(r.i)),
    bytes: Number(r.bytes ?? 0),
  }));
}

/** Lists what retained drops hold, for one app or all, oldest first. */
export async function listRetained(session: Session, app?: string): Promise<RetainedEntry[]> {
  const apps = app === undefined ? undefined : [session.app(app).name];
  const rows = await session.history.list(session.db, apps);
  const found = rows.flatMap((row) => heldBy(row).map((h) => ({ row, ...h })));
  // Never silent: a held table no history row claims (its row was deleted by hand) is listed too.
  const orphans = apps === undefined ? await orphansOf(session.db, rows) : [];
  const measured = await measure(session.db, [...found.map((f) => f.retention.name), ...orphans]);
  const listed = found.map((f, i): RetainedEntry => {
    const m = measured[i]!;
    const object = f.capture.kind === "table"
      ? `table ${f.capture.table}`
      : `column ${f.capture.table}.${f.capture.column.name}`;
    return {
      app: f.row.app,
      migration: f.row.id,
      description: f.row.description ?? "",
      kind: f.retention.kind,
      object,
      held: `${RETAINED_SCHEMA}.${f.retention.name}`,
      rows: m.rows,
      estimated: m.estimated,
      bytes: m.bytes,
      since: f.row.ranOn,
      missing: !m.found,
      operation: f.index,
    };
  });
  return [
    ...listed,
    ...orphans.map((name, i): RetainedEntry => {
      const m = measured[found.length + i]!;
      return {
        app: "",
        migration: "",
        description: "",
        kind: "table",
        object: "(no history row claims it)",
        held: `${RETAINED_SCHEMA}.${name}`,
        rows: m.rows,
        estimated: m.estimated,
        bytes: m.bytes,
        since: "",
        missing: false,
        operation: -1,
      };
    }),
  ];
}

/** Tables in the retained schema that no history row's capture names. */
async function orphansOf(db: Queryable, rows: readonly HistoryRow[]): Promise<string[]> {
  const claimed = new Set(
    rows.flatMap((row) =>
      Object.values(row.reversal?.captures ?? {}).flatMap((c) =>
        (c.kind === "table" || c.kind === "column") && c.retained && c.retained.kind !== "not-retained"
          ? [c.retained.name]
          : []
      )
    ),
  );
  const held = await db.query<{ name: string }>(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p') and not c.relispartition order by 1`,
    [RETAINED_SCHEMA],
  );
  return held.map((h) => h.name).filter((name) => !claimed.has(name));
}

/** What to purge: an app, a migration ID, an age; all retained objects when none is given. */
export interface PurgeRequest {
  readonly app?: string | undefined;
  readonly migrationId?: string | undefined;
  /** Only what was retained longer ago than this, in ms. */
  readonly olderThanMs?: number | undefined;
}

/** The retained objects a purge request covers. */
export async function selectPurge(session: Session, request: PurgeRequest): Promise<RetainedEntry[]> {
  let entries = await listRetained(session, request.app);
  if (request.migrationId !== undefined) {
    entries = entries.filter((e) => e.migration === request.migrationId);
  }
  if (request.olderThanMs !== undefined) {
    const [now] = await session.db.query<{ ms: number }>("select (extract(epoch from now()) * 1000)::float8 as ms");
    const cutoff = Number(now!.ms) - request.olderThanMs;
    entries = entries.filter((e) => Date.parse(e.since) < cutoff);
  }
  return entries;
}

/**
 * Drops the held copies for good, one transaction per migration, and marks its captures as
 * purged (re-rendering its stored reversal): its backwards then restores structure only.
 * Runs under the migration lock, so no backwards runs meanwhile.
 *
 * @throws {RunError} when the lock cannot be had.
 */
export async function purgeRetained(
  session: Session,
  entries: readonly RetainedEntry[],
  options: { lockTimeoutMs?: number } = {},
): Promise<RetainedEntry[]> {
  const byMigration = new Map<string, RetainedEntry[]>();
  for (const e of entries) {
    const key = `${e.app}\0${e.migration}`;
    byMigration.set(key, [...(byMigration.get(key) ?? []), e]);
  }
  try {
    // The run lock (a table lock behind a transaction pooler, where an advisory one could leak).
    return await withRunLock(
      session,
      { timeoutMs: options.lockTimeoutMs ?? 10_000, command: "tide retained --purge" },
      async () => {
        const purged: RetainedEntry[] = [];
        const rows = await session.history.list(session.db, [...new Set(entries.map((e) => e.app))]);
        const [now] = await session.db.query<{ at: string }>(
          `select to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as at`,
        );
        for (const group of byMigration.values()) {
          if (group[0]!.migration === "") {
            // Orphans: nothing to mark, only the tables to drop.
            await session.db.transaction(async (tx) => {
              await tx.execute([
                ...group.map((e) => `DROP TABLE IF EXISTS ${heldName(e.held.slice(RETAINED_SCHEMA.length + 1))}`),
                dropRetainedSchemaIfEmpty(),
              ]);
            });
            purged.push(...group);
            continue;
          }
          const row = rows.find((r) => r.app === group[0]!.app && r.id === group[0]!.migration);
          // Reversed meanwhile (by a run that held the lock before us): nothing is held any more.
          if (!row?.reversal) continue;
          const operations = new Set(group.map((e) => e.operation));
          const captures: Record<string, Capture> = { ...row.reversal.captures };
          const drops: string[] = [];
          for (const [index, capture] of Object.entries(captures)) {
            const retention = retentionOf(capture);
            if (!retention || !operations.has(Number(index))) continue;
            drops.push(`DROP TABLE IF EXISTS ${heldName(retention.name)}`);
            captures[index] = { ...capture, retained: { ...retention, purgedAt: now!.at } } as Capture;
          }
          if (drops.length === 0) continue;
          const reversal = rerender(row.reversal, captures);
          await session.db.transaction(async (tx) => {
            const counts = await tx.execute([
              ...drops,
              `UPDATE ${session.history.table} SET reversal = ${quoteLiteral(JSON.stringify(reversal))}::jsonb
              WHERE app_name = ${quoteLiteral(row.app)} AND name = ${quoteLiteral(row.id)}`,
              dropRetainedSchemaIfEmpty(),
            ]);
            if (counts[drops.length] !== 1) {
              throw new RunError(`The history row of ${row.app} ${row.id} changed meanwhile`);
            }
          });
          purged.push(...group);
        }
        return purged;
      },
    );
  } catch (error) {
    if (error instanceof LockTimeoutError) throw new RunError(error.message, { cause: error });
    throw error;
  }
}

/** The stored reversal with new captures: its SQL rendered again from its operations. */
function rerender(reversal: StoredReversal, captures: Record<string, Capture>): StoredReversal {
  const ops = reversal.operations ?? null;
  if (reversal.statements === null || ops === null) return { ...reversal, captures };
  const covered = ops.some((op) => op.kind === "rawBackwards");
  const rendered = ops.map((op, i) => renderBackwards(op, i, captures[String(i)], covered)).reverse();
  const statements = rendered.flatMap((r) => r.steps.flatMap((s) => ("sql" in s ? [s.sql] : [])));
  return { ...reversal, captures, statements };
}

/** `--older-than`: `90s`, `30m`, `12h`, `7d`, `2w`. */
export function parseAge(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d|w)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as "s"];
  return Number(m[1]) * unit;
}
