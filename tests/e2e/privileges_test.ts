/**
 * Managed-service roles: a role without CREATEDB, a history table created by another role.
 * Each failure names the fix exactly (the GRANTs are run as printed, and then tide works), and
 * every server error carries its SQLSTATE.
 */

import postgres from "postgres";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { history, idOf, postgresTest, tableMigration } from "../helpers/backends.ts";
import { makeProject, tide } from "../helpers/cli.ts";
import { POSTGRES_URL } from "../helpers/databases.ts";

const MIGRATIONS = [tableMigration(1), tableMigration(2)];

/** A login role without CREATEDB, dropped (with what it owns) afterwards. */
async function withRole(url: string, fn: (role: string, as: (u: string) => string) => Promise<void>): Promise<void> {
  const role = `tide_t_r${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const admin = postgres(POSTGRES_URL!, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create role ${role} login nocreatedb`);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql.unsafe(`grant usage, create on schema public to ${role}`);
  await sql.end();
  const as = (u: string) => u.replace(/^postgres:\/\/[^@]*@/, `postgres://${role}@`);
  const scratch: string[] = [];
  try {
    await fn(role, as);
  } finally {
    for (
      const db
        of (await admin`select datname from pg_database where datdba = (select oid from pg_roles where rolname = ${role})`)
    ) {
      scratch.push(String(db.datname));
    }
    for (const db of scratch) await admin.unsafe(`drop database if exists ${db} with (force)`);
    const own = postgres(url, { max: 1, onnotice: () => {} });
    await own.unsafe(`drop owned by ${role} cascade`);
    await own.end();
    await admin.unsafe(`drop role ${role}`);
    await admin.end();
  }
}

postgresTest("a history table of another role: the message gives the GRANTs, which fix it", async (url) => {
  const root = await makeProject({ app: { migrations: MIGRATIONS } });
  // The history and lock tables made by postgres (the lock table by a table-lock run).
  const first = await tide(["forwards", "app", "1", "--lock", "table"], { cwd: root, env: { TIDE_DATABASE_URL: url } });
  assertEquals(first.code, 0, first.stderr);
  await withRole(url, async (role, as) => {
    const env = { TIDE_DATABASE_URL: as(url) };
    for (const args of [["forwards", "app", "--lock", "table"], ["check"]]) {
      const r = await tide(args, { cwd: root, env });
      assertEquals(r.code, 1, r.stderr);
      assertMatch(r.stderr, /permission denied for table migration \(SQLSTATE 42501\)/);
      assert(r.stderr.includes(`GRANT SELECT, INSERT, DELETE ON "migration" TO "${role}";`), r.stderr);
      assert(r.stderr.includes(`GRANT USAGE, SELECT ON SEQUENCE public.migration_id_seq TO "${role}";`), r.stderr);
      assert(r.stderr.includes(`GRANT SELECT, INSERT, UPDATE, DELETE ON "migration_lock" TO "${role}";`), r.stderr);
    }
    // Run exactly what the message says, as the owner: then tide works as the role.
    const r = await tide(["forwards", "app", "--lock", "table"], { cwd: root, env });
    const grants = r.stderr.match(/GRANT [^;]+;/g) ?? [];
    assertEquals(grants.length, 3);
    const owner = postgres(url, { max: 1, onnotice: () => {} });
    for (const g of grants) await owner.unsafe(g);
    await owner.end();
    const ok = await tide(["forwards", "app", "--lock", "table"], { cwd: root, env });
    assertEquals(ok.code, 0, ok.stderr);
    assertEquals(await history(url), [`app ${idOf(1)}`, `app ${idOf(2)}`]);
    const back = await tide(["backwards", "app", "-y"], { cwd: root, env });
    assertEquals(back.code, 0, back.stderr);
    assertEquals(await history(url), [`app ${idOf(1)}`]);
  });
});

postgresTest("verify without CREATEDB names CREATEDB and --scratch-url; a scratch database works", async (url) => {
  const root = await makeProject({ app: { migrations: MIGRATIONS } });
  await withRole(url, async (role, as) => {
    const env = { TIDE_DATABASE_URL: as(url) };
    const denied = await tide(["verify", "app"], { cwd: root, env });
    assertEquals(denied.code, 1, denied.stderr);
    assertMatch(denied.stderr, /permission denied to create database \(SQLSTATE 42501\)/);
    assert(denied.stderr.includes(`ALTER ROLE "${role}" CREATEDB`), denied.stderr);
    assertMatch(denied.stderr, /--scratch-url URL or "verifyDatabase" in tide\.json/);

    const admin = postgres(POSTGRES_URL!, { max: 1, onnotice: () => {} });
    const scratch = `${role}_s`;
    const dirty = `${role}_d`;
    await admin.unsafe(`create database ${scratch} owner ${role}`);
    await admin.unsafe(`create database ${dirty} owner ${role}`);
    await admin.end();
    const dbUrl = (name: string) => as(url).replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
    const d = postgres(dbUrl(dirty), { max: 1, onnotice: () => {} });
    await d`create table precious (id int)`;
    await d.end();

    for (let i = 0; i < 2; i++) {
      // Twice: the second time the database is one verify used before (marked), so it is reused.
      const v = await tide(["verify", "app", "--scratch-url", dbUrl(scratch)], { cwd: root, env });
      assertEquals(v.code, 0, v.stderr);
      assertMatch(v.stdout, /2 migration\(s\) round-trip exactly/);
    }
    const s = postgres(dbUrl(scratch), { max: 1, onnotice: () => {} });
    assertEquals((await s`select count(*)::int as n from pg_tables where schemaname = 'public'`)[0]!.n, 0);
    await s.end();
    const refused = await tide(["verify", "app", "--scratch-url", dbUrl(dirty)], { cwd: root, env });
    assertEquals(refused.code, 1);
    assertMatch(refused.stderr, /is not empty \(\d+ object\(s\)\) and no tide verify used it before/);
    const keep = postgres(dbUrl(dirty), { max: 1, onnotice: () => {} });
    assertEquals((await keep`select to_regclass('precious') is not null as ok`)[0]!.ok, true);
    await keep.end();

    // "verifyDatabase" in tide.json does the same.
    const configured = await makeProject({ app: { migrations: MIGRATIONS } }, { verifyDatabase: dbUrl(scratch) });
    const c = await tide(["verify", "app"], { cwd: configured, env });
    assertEquals(c.code, 0, c.stderr);
  });
});

postgresTest("a server error in a function step carries its SQLSTATE", async (url) => {
  const root = await makeProject({
    app: {
      migrations: [{
        id: idOf(1),
        body: `  manager.addRaw(async (db) => { await db.query("select * from nowhere_at_all"); });`,
      }],
    },
  });
  const r = await tide(["forwards", "app"], { cwd: root, env: { TIDE_DATABASE_URL: url } });
  assertEquals(r.code, 1);
  assertMatch(r.stderr, /relation "nowhere_at_all" does not exist \(SQLSTATE 42P01\)/);
});
