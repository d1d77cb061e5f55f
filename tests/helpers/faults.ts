/**
 * Shared pieces of the fault-injection suite (tests/faults): its migrations, the oracle that
 * checks a trial (a second session reading the history and the catalog, not tide), and the
 * `[faults]` test registration.
 *
 * @module
 */

import postgres from "postgres";
import { idOf } from "./backends.ts";
import type { FixtureMigration, TideRun } from "./cli.ts";
import { POSTGRES_URL } from "./databases.ts";

export { POSTGRES_URL };

/** Whether the fault suite can run (it needs the PostgreSQL test server). */
export const FAULTS_READY = POSTGRES_URL !== undefined;

/** Registers `name [faults]`, ignored (so that the skip shows) without a PostgreSQL server. */
export function faultsTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: `${name} [faults]`, ignore: !FAULTS_READY, sanitizeResources: false, sanitizeOps: false, fn });
}

/** A migration of the suite and the catalog test saying whether its objects exist. */
export interface FaultMigration extends FixtureMigration {
  /** SQL giving one boolean per object of the migration: true when it exists (and is valid). */
  readonly objects: string;
  /** SQL true when a leftover that a failed run may leave is there (an INVALID index). */
  readonly leftover?: string;
  readonly transactional: boolean;
  /** Whether it has a function step that waits. */
  readonly waits: boolean;
}

const reg = (name: string) => `to_regclass('${name}') is not null`;

/**
 * Six migrations that exercise every path: plain DDL, a function step that waits `waitMs`
 * (so that faults land inside a transaction with nothing in flight), a CONCURRENTLY index
 * (statement by statement, history row last), rows, a column, a server-side sleep.
 */
export function faultMigrations(waitMs = 150): FaultMigration[] {
  return [
    {
      id: idOf(1),
      description: "t1",
      body: `  manager.addTable("t1", { id: "serial primary key", name: "text" });`,
      objects: `select ${reg("t1")} as e`,
      transactional: true,
      waits: false,
    },
    {
      id: idOf(2),
      description: "t2 with a function step",
      body: `  manager.addTable("t2", { id: "serial primary key", name: "text" });
  manager.addRaw(async (db) => {
    await new Promise((r) => setTimeout(r, ${waitMs}));
    await db.query("insert into t2 (name) values ('x')");
  }, async (db) => {
    await new Promise((r) => setTimeout(r, ${waitMs}));
    await db.query("delete from t2");
  });`,
      objects: `select ${reg("t2")} as e`,
      transactional: true,
      waits: true,
    },
    {
      id: idOf(3),
      description: "concurrent index",
      body: `  manager.addIndex("t1", ["name"], { name: "i3", concurrently: true });`,
      objects:
        `select exists (select 1 from pg_index where indexrelid = to_regclass('i3') and indisvalid and indisready) as e`,
      leftover: `select exists (select 1 from pg_index where indexrelid = to_regclass('i3') and not indisvalid) as e`,
      transactional: false,
      waits: false,
    },
    {
      id: idOf(4),
      description: "t4 with rows",
      body: `  manager.addTable("t4", { id: "serial primary key", v: "int" });
  manager.addRaw("insert into t4 (v) select g from generate_series(1, 20000) g", "delete from t4");`,
      objects: `select ${reg("t4")} as e`,
      transactional: true,
      waits: false,
    },
    {
      id: idOf(5),
      description: "column c5",
      body: `  manager.addColumn("t1", "c5", "int default 5");`,
      objects:
        `select exists (select 1 from pg_attribute where attrelid = to_regclass('t1') and attname = 'c5' and not attisdropped) as e`,
      transactional: true,
      waits: false,
    },
    {
      id: idOf(6),
      description: "t6 after a server-side sleep",
      body: `  manager.addTable("t6", { id: "serial primary key" });
  manager.addRaw("select pg_sleep(0.1)", "select pg_sleep(0.1)");`,
      objects: `select ${reg("t6")} as e`,
      transactional: true,
      waits: false,
    },
  ];
}

/** What a second session sees: the history rows and, per migration, whether its objects exist. */
export interface Observed {
  readonly history: ReadonlySet<string>;
  readonly objects: ReadonlyMap<string, boolean>;
  readonly leftovers: ReadonlyMap<string, boolean>;
}

/** Reads history and catalog through `sql`, a session of its own. */
export async function observe(sql: postgres.Sql, migrations: readonly FaultMigration[]): Promise<Observed> {
  const [t] = await sql`select to_regclass('migration') is not null as e`;
  const history = new Set<string>(
    t?.e ? (await sql`select name from migration where app_name = 'app'`).map((r) => r.name as string) : [],
  );
  const objects = new Map<string, boolean>();
  const leftovers = new Map<string, boolean>();
  for (const m of migrations) {
    objects.set(m.id, Boolean((await sql.unsafe(m.objects))[0]?.e));
    if (m.leftover) leftovers.set(m.id, Boolean((await sql.unsafe(m.leftover))[0]?.e));
  }
  return { history, objects, leftovers };
}

/**
 * History == schema: each history row's objects exist, and no other migration's do.
 * `partial`: migrations run outside a transaction (CONCURRENTLY) whose last run was reported
 * failed or unknown, with the message that their statements before the loss may have stayed:
 * for those alone, objects and row may disagree until the next run of that migration.
 */
export function historyMatchesSchema(
  o: Observed,
  migrations: readonly FaultMigration[],
  partial: ReadonlySet<string> = new Set(),
): string[] {
  const problems: string[] = [];
  for (const m of migrations) {
    const ran = o.history.has(m.id);
    const there = o.objects.get(m.id) ?? false;
    if (ran !== there && !(partial.has(m.id) && !m.transactional)) {
      problems.push(
        `${m.id} (${m.description}): history row ${ran ? "present" : "absent"} but objects ${
          there ? "present" : "absent"
        }`,
      );
    }
    // A valid index never sits beside a missing row; an INVALID leftover may (the next run drops it).
    if (ran && o.leftovers.get(m.id)) problems.push(`${m.id}: history row present but its index is INVALID`);
  }
  return problems;
}

/** The `--json` document of a run, when stdout holds one. */
export interface RunDoc {
  success: boolean;
  message: string | null;
  migrations: { app: string; id: string; status: string; sql: string[]; error?: string; note?: string }[];
}

/** Parses stdout as the run's JSON document; undefined when it is not one. */
export function runDoc(run: TideRun): RunDoc | undefined {
  try {
    return JSON.parse(run.stdout) as RunDoc;
  } catch {
    return undefined;
  }
}

/**
 * Is every reported status the truth? `before` and `after` are what a second session saw;
 * `direction` the run's. Returns the inconsistencies found (none is right).
 */
export function statusesAreTrue(
  run: TideRun,
  direction: "forwards" | "backwards",
  before: Observed,
  after: Observed,
): string[] {
  const problems: string[] = [];
  // A crash (uncaught error, unhandled rejection) is never an answer.
  if (/Uncaught|error: \(in promise\)|^\s+at .*\.ts:\d+/m.test(run.stderr)) {
    problems.push(`tide crashed: ${run.stderr.slice(-600)}`);
  }
  const doc = runDoc(run);
  if (!doc) {
    problems.push(
      `no JSON document on stdout (exit ${run.code}): ${run.stdout.slice(0, 300)} ${run.stderr.slice(-300)}`,
    );
    return problems;
  }
  const done = direction === "forwards" ? "applied" : "reversed";
  const all = doc.migrations.length > 0 && doc.migrations.every((m) => m.status === done);
  if ((run.code === 0) !== (all || (doc.success && doc.migrations.length === 0))) {
    problems.push(`exit ${run.code} but statuses ${doc.migrations.map((m) => m.status).join(",")}`);
  }
  if (doc.success !== (run.code === 0)) problems.push(`success ${doc.success} with exit ${run.code}`);
  if (doc.migrations.length === 0 && run.code !== 0 && !sameHistory(before, after)) {
    problems.push(`the run failed before any migration (${doc.message}) yet the history changed`);
  }
  if (doc.migrations.length === 0 && run.code !== 0 && /connection to the server was lost/i.test(doc.message ?? "")) {
    if (!/No migration was run/.test(doc.message ?? "")) {
      problems.push(`a loss before any migration not said so: ${doc.message}`);
    }
  }
  for (const m of doc.migrations) {
    const was = before.history.has(m.id);
    const is = after.history.has(m.id);
    switch (m.status) {
      case "applied":
        if (!is) problems.push(`${m.id} reported applied but has no history row`);
        break;
      case "reversed":
        if (is) problems.push(`${m.id} reported reversed but its history row is there`);
        break;
      case "failed":
      case "not-run":
        if (was !== is) problems.push(`${m.id} reported ${m.status} but its history row ${is ? "appeared" : "went"}`);
        break;
      case "unknown":
        if (run.code === 0) problems.push(`${m.id} reported unknown with exit 0`);
        if (!m.error || !/check/i.test(m.error)) problems.push(`${m.id} unknown without saying what to check`);
        break;
      default:
        problems.push(`${m.id}: unexpected status ${m.status}`);
    }
  }
  return problems;
}

function sameHistory(a: Observed, b: Observed): boolean {
  return a.history.size === b.history.size && [...a.history].every((id) => b.history.has(id));
}

/**
 * Waits (bounded) for every other session of the database to end, then returns how many
 * advisory locks are still held in it (0 is right).
 */
export async function advisoryLocksLeft(sql: postgres.Sql, withinMs = 5000): Promise<number> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const [row] = await sql`select count(*)::int as n from pg_locks
      where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`;
    if (row?.n === 0 || Date.now() >= deadline) return row?.n ?? 0;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits (bounded) until no session but `sql`'s own is connected to the database. */
export async function waitForIdle(sql: postgres.Sql, withinMs = 5000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    const [row] = await sql`select count(*)::int as n from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'`;
    if (row?.n === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A role of its own for one test run (unique name), dropped by `drop`. */
export async function createRole(
  adminUrl: string,
  settings: Record<string, string>,
): Promise<{ name: string; drop: () => Promise<void> }> {
  const name = `tide_t_role_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create role ${name} login superuser`);
    for (const [k, v] of Object.entries(settings)) await admin.unsafe(`alter role ${name} set ${k} = '${v}'`);
  } finally {
    await admin.end();
  }
  return {
    name,
    drop: async () => {
      const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`select pg_terminate_backend(pid) from pg_stat_activity where usename = '${name}'`);
        await sql.unsafe(`drop role if exists ${name}`);
      } finally {
        await sql.end();
      }
    },
  };
}

/** `url` with another user. */
export function asUser(url: string, user: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = "";
  return u.toString();
}
