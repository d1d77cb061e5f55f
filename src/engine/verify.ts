/**
 * `tide verify`: proves on a scratch database that each migration's reversal restores the
 * exact schema: snapshot, apply, reverse, compare, apply again. Never touches the user's data.
 *
 * @module
 */

import type { Database, Queryable } from "../db/database.ts";
import { distributionSnapshot, hasCitus, openCitusScratch } from "./citus_scratch.ts";
import { openDatabase } from "../db/open.ts";
import { type CatalogSnapshot, diffCatalog, snapshotCatalog as snapshotSchema } from "./catalog.ts";
import { History } from "./history.ts";
import { planBackwardsMigration, planForwardsMigration } from "./plan.ts";
import { runPlan } from "./run.ts";
import type { Session } from "./session.ts";
import type { Target } from "./target.ts";
import type { LoadedMigration } from "../loader/load.ts";
import { WORKER_ABOVE } from "../loader/workers.ts";
import { PlanError, RunError } from "../errors.ts";
import type { NotRestored } from "../migration/render.ts";
import { StatementError } from "../db/database.ts";
import { maskPasswords } from "../mask.ts";

/** One attribute that differs after a round trip. */
export interface VerifyDifference {
  /** e.g. `index public.band_name_idx`. */
  readonly object: string;
  /** e.g. `default`, `definition`, or `exists`. */
  readonly attribute: string;
  readonly before: string | null;
  readonly after: string | null;
}

/** What verify found for one migration. */
export interface VerifiedMigration {
  readonly app: string;
  readonly id: string;
  readonly description: string;
  /**
   * `ok`: the round trip restored the schema. `differs`: it did not (see differences).
   * `failed`: applying or reversing failed (see error). `irreversible`: it cannot be reversed.
   * `applied`: only applied, to build the schema later migrations start from.
   */
  readonly status: "ok" | "differs" | "failed" | "irreversible" | "applied";
  readonly differences: readonly VerifyDifference[];
  readonly error?: string;
  /** What its reversal cannot restore (e.g. a re-added column's position), when anything. */
  readonly notRestored?: readonly NotRestored[];
}

/** The result of a verify run. */
export interface VerifyResult {
  readonly success: boolean;
  /** Where the scratch database lived, for the report. */
  readonly scratch: string;
  readonly migrations: readonly VerifiedMigration[];
}

/**
 * Runs every migration of the project forwards on a scratch database, in dependency order,
 * round-tripping the selected ones: `all` (default), an ID (that one), or N (the app's last N).
 */
export async function verify(
  session: Session,
  request: { app: string; target: Target },
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const apps = request.app === "all" ? session.config.apps.map((a) => a.name) : [session.app(request.app).name];
  const order: LoadedMigration[] = [];
  for (const app of session.config.apps) {
    // Apps the selected one depends on (and the rest, for "all") build the starting schema.
    const source = session.source(app.name);
    const ids = await source.ids();
    if (ids.length > (options.workerAbove ?? WORKER_ABOVE)) await source.recordAhead(ids);
    order.push(...(await source.all()).values());
  }
  const selected = new Set<LoadedMigration>();
  for (const app of apps) {
    const own = order.filter((m) => m.app === app);
    const chosen = request.target.kind === "all"
      ? own
      : request.target.kind === "count"
      ? own.slice(-request.target.count)
      : own.filter((m) => m.id === (request.target as { id: string }).id);
    if (request.target.kind === "id" && chosen.length === 0) {
      throw new PlanError(`App "${app}" has no migration "${request.target.id}"`);
    }
    for (const m of chosen) selected.add(m);
  }
  const last = Math.max(...[...selected].map((m) => order.indexOf(m)));
  const scratchUrl = options.scratchUrl ?? session.config.verifyDatabase;
  const { db, label, drop, remove, citus } = scratchUrl
    ? { ...(await openGivenScratch(scratchUrl)), remove: undefined, citus: false }
    : await openScratch(session);
  if (remove) options.onScratch?.(remove);
  try {
    const history = new History(session.config.migrationTable);
    await history.ensure(db);
    const results: VerifiedMigration[] = [];
    for (const migration of order.slice(0, last + 1)) {
      const result = await roundTrip(db, history, migration, selected.has(migration), citus);
      results.push(result);
      // Later migrations would start from a schema that is not what they expect.
      if (result.error !== undefined) break;
    }
    return {
      success: results.every((r) => r.status === "ok" || r.status === "applied"),
      scratch: label,
      migrations: results,
    };
  } finally {
    await drop();
    if (remove) options.onScratch?.(undefined);
  }
}

async function roundTrip(
  db: Database,
  history: History,
  migration: LoadedMigration,
  check: boolean,
  citus = false,
): Promise<VerifiedMigration> {
  const base = { app: migration.app, id: migration.id, description: migration.description, differences: [] };
  const exclude = [history.catalogName];
  // Citus: distribution is compared too, so a reversal that leaves a table local differs.
  const snapshotCatalog = async (q: Queryable, skip: string[]): Promise<CatalogSnapshot> => ({
    ...(await snapshotSchema(q, skip)),
    ...(citus ? await distributionSnapshot(q) : {}),
  });
  const apply = async () => {
    const r = await runPlan(db, history, {
      direction: "forwards",
      migrations: [await planForwardsMigration(migration)],
    });
    return r.outcomes[0]?.error?.message;
  };
  const before = check ? await snapshotCatalog(db, exclude) : undefined;
  const applyError = await apply();
  if (applyError) return { ...base, status: "failed", error: applyError };
  if (!check) return { ...base, status: "applied" };
  const [row] = (await history.list(db, [migration.app])).filter((r) => r.id === migration.id);
  const plan = await planBackwardsMigration(row!, migration);
  if (plan.irreversible.length) return { ...base, status: "irreversible", error: plan.irreversible.join("; ") };
  const lost = plan.notRestored.length ? { notRestored: plan.notRestored } : {};
  const back = await runPlan(db, history, { direction: "backwards", migrations: [plan] });
  if (back.outcomes[0]?.error) return { ...base, ...lost, status: "failed", error: back.outcomes[0].error.message };
  const differences = attributeDiff(before!, await snapshotCatalog(db, exclude));
  const againError = await apply();
  const again = againError ? { error: `applying again after the reversal failed: ${againError}` } : {};
  // A reversal that does not restore the schema is the root cause; a failed re-apply follows from it.
  if (differences.length) return { ...base, ...lost, status: "differs", differences, ...again };
  if (againError) return { ...base, ...lost, status: "failed", differences, ...again };
  return { ...base, ...lost, status: "ok", differences };
}

/** Splits `key=value key=value` snapshot lines into attributes and lists those that differ. */
export function attributeDiff(before: CatalogSnapshot, after: CatalogSnapshot): VerifyDifference[] {
  const out: VerifyDifference[] = [];
  for (const d of diffCatalog(before, after)) {
    if (d.before === null || d.after === null) {
      out.push({
        object: d.object,
        attribute: "exists",
        before: d.before === null ? null : "yes",
        after: d.after === null ? null : "yes",
      });
      continue;
    }
    const a = attributes(d.before);
    const b = attributes(d.after);
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (a[key] !== b[key]) {
        out.push({ object: d.object, attribute: key, before: a[key] ?? null, after: b[key] ?? null });
      }
    }
  }
  return out;
}

function attributes(value: string): Record<string, string> {
  const parts = value.split(/ (?=[a-z]+=)/);
  const result: Record<string, string> = {};
  for (const part of parts) {
    const m = /^([a-z]+)=([\s\S]*)$/.exec(part);
    if (m) result[m[1]!] = m[2]!;
    else result.definition = part;
  }
  return result;
}

/** Options of {@linkcode verify}. */
export interface VerifyOptions {
  /**
   * A database to verify in instead of a temporary one (`--scratch-url`, `"verifyDatabase"`):
   * it must be empty or have been used by tide verify before, since verify wipes it.
   */
  readonly scratchUrl?: string | undefined;
  /** More migrations than this in an app are recorded in Workers. @default WORKER_ABOVE */
  readonly workerAbove?: number;
  /**
   * Given, as soon as a temporary scratch database exists, what drops it from the server at
   * once (even while one of its statements runs), and `undefined` once it is dropped: the CLI
   * calls it when a signal ends the run, which would otherwise leave it there. Not for a
   * `scratchUrl` database: the next verify wipes that one.
   */
  readonly onScratch?: (drop: (() => Promise<void>) | undefined) => void;
}

/** A scratch database beside the user's: a temporary database on the server, or PGlite in memory. */
async function openScratch(
  session: Session,
): Promise<
  { db: Database; label: string; drop: () => Promise<void>; remove?: () => Promise<void>; citus?: boolean }
> {
  if (session.db.kind === "pglite") {
    const db = await openDatabase("pglite:memory");
    return { db, label: "pglite:memory", drop: () => db.close() };
  }
  const name = `tide_verify_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  // Citus: a distributed scratch database, on the coordinator and every worker.
  if (await hasCitus(session.db)) {
    const citus = await openCitusScratch(session.db, session.databaseUrl, name);
    return { ...citus, remove: citus.drop, citus: true };
  }
  try {
    await session.db.execute([`CREATE DATABASE ${name}`]);
  } catch (error) {
    throw await scratchRefusal(session, error);
  }
  const url = new URL(session.db.url ?? session.databaseUrl);
  url.pathname = `/${name}`;
  const db = await openDatabase(url.toString());
  return {
    db,
    label: `temporary database ${name} on ${new URL(session.databaseLabel).host}`,
    drop: async () => {
      await db.close();
      await session.db.execute([`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]);
    },
    // FORCE ends the scratch session even inside a statement, where closing it would wait.
    remove: async () => {
      await session.db.execute([`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]);
    },
  };
}

const SCRATCH_FIX = 'or give verify a database it may wipe: --scratch-url URL or "verifyDatabase" in tide.json ' +
  "(an empty database, or one an earlier tide verify used)";

/** Why no temporary database could be made, and the two ways out. */
async function scratchRefusal(session: Session, error: unknown): Promise<Error> {
  const code = error instanceof StatementError ? error.server.code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (code === "42501") {
    const [me] = await session.db.query<{ role: string }>("select current_user as role").catch(() => []);
    return new RunError(
      `tide verify needs a scratch database and cannot create one: ${message}. Either give the role CREATEDB ` +
        `(as a superuser: ALTER ROLE "${me?.role ?? "<role>"}" CREATEDB), ${SCRATCH_FIX}`,
      { cause: error },
    );
  }
  if (code === "25006") {
    return new RunError(
      `tide verify cannot create its scratch database on ${session.databaseLabel}: ${message} (a standby?). ` +
        `Point verify at the primary, ${SCRATCH_FIX}`,
      { cause: error },
    );
  }
  return error instanceof Error ? error : new Error(message);
}

/** The schema where verify marks a database it uses, so that it may wipe it next time. */
const MARK = "tide_verify";

/** Schemas tide never touches. */
const SYSTEM =
  "n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') and n.nspname not like 'pg\\_temp\\_%' " +
  "and n.nspname not like 'pg\\_toast\\_temp\\_%'";

/**
 * The scratch database given by URL: refused unless empty or marked by an earlier verify; wiped
 * (every schema but the mark's dropped, public made again) before and after.
 */
async function openGivenScratch(url: string): Promise<{ db: Database; label: string; drop: () => Promise<void> }> {
  const label = maskPasswords(url);
  const db = await openDatabase(url);
  try {
    if (db.kind === "postgres") {
      const [standby] = await db.query<{ yes: boolean }>("select pg_is_in_recovery() as yes");
      if (standby?.yes) throw new RunError(`The scratch database ${label} is on a standby: give one on a primary`);
    }
    const [state] = await db.query<{ marked: boolean; objects: string }>(
      `select to_regclass('${MARK}.scratch') is not null as marked,
              ((select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace where ${SYSTEM} and n.nspname <> '${MARK}')
             + (select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace where ${SYSTEM})
             + (select count(*) from pg_type t join pg_namespace n on n.oid = t.typnamespace where ${SYSTEM} and n.nspname <> '${MARK}' and t.typrelid = 0 and t.typelem = 0)
             + (select count(*) from pg_namespace n where ${SYSTEM} and n.nspname not in ('public', '${MARK}'))
             + (select count(*) from pg_extension where extname <> 'plpgsql'))::text as objects`,
    );
    if (!state?.marked && Number(state?.objects) > 0) {
      throw new RunError(
        `The scratch database ${label} is not empty (${state?.objects} object(s)) and no tide verify used it before: ` +
          "verify wipes its scratch database, so it refuses this one. Give an empty database (CREATE DATABASE …)",
      );
    }
    await wipe(db, label);
  } catch (error) {
    await db.close();
    throw error;
  }
  return {
    db,
    label: `scratch database ${label} (wiped before and after)`,
    drop: async () => {
      try {
        await wipe(db, label);
      } finally {
        await db.close();
      }
    },
  };
}

async function wipe(db: Database, label: string): Promise<void> {
  const schemas = await db.query<{ name: string }>(
    `select quote_ident(n.nspname) as name from pg_namespace n where ${SYSTEM} and n.nspname <> '${MARK}'`,
  );
  try {
    await db.execute([
      ...schemas.map((s) => `DROP SCHEMA ${s.name} CASCADE`),
      "CREATE SCHEMA public",
      `CREATE SCHEMA IF NOT EXISTS ${MARK}`,
      `CREATE TABLE IF NOT EXISTS ${MARK}.scratch (used_at timestamptz NOT NULL DEFAULT now())`,
      `INSERT INTO ${MARK}.scratch DEFAULT VALUES`,
    ]);
  } catch (error) {
    throw new RunError(
      `Cannot wipe the scratch database ${label}: ${(error as Error).message}. The role verify connects as must own ` +
        "its schemas (e.g. make it the database's owner: CREATE DATABASE … OWNER role)",
      { cause: error },
    );
  }
}
