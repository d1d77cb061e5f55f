/**
 * A real primary and hot standby (pg_basebackup -R, streaming): writes to the standby are
 * refused before anything is locked or asked, naming the server and the fix; read-only commands
 * work there; multi-host URLs reach the server their target_session_attrs asks for. The oracle
 * is the primary's own history table and catalog.
 */

import postgres from "postgres";
import { assert, assertEquals, assertMatch, assertNotMatch } from "../helpers/assert.ts";
import { idOf, tableMigration } from "../helpers/backends.ts";
import { makeProject, tide } from "../helpers/cli.ts";
import { standbyTest } from "../helpers/standby.ts";

const MIGRATIONS = [tableMigration(1), tableMigration(2)];

async function primaryState(url: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const history = (await sql`select to_regclass('migration') is not null as found`)[0]!.found
      ? (await sql`select name from migration order by ran_on, name`).map((r) => String(r.name))
      : [];
    const tables = (await sql`select tablename from pg_tables where schemaname = 'public' order by 1`).map((r) =>
      String(r.tablename)
    );
    return { history, tables };
  } finally {
    await sql.end();
  }
}

function withPassword(url: string): string {
  return url.replace("postgres://postgres@", "postgres://postgres:s3cret@");
}

standbyTest("on a standby, writes are refused naming the server and the fix; check and --preview work", async (db) => {
  const root = await makeProject({ app: { migrations: MIGRATIONS } });
  assertEquals((await tide(["forwards", "app", "1"], { cwd: root, env: { TIDE_DATABASE_URL: db.primary } })).code, 0);
  await db.caughtUp();
  const env = { TIDE_DATABASE_URL: withPassword(db.standby) };
  const masked = `postgres://postgres:***@${db.standbyHost}/${db.name}`;
  for (const args of [["forwards", "app"], ["backwards", "app", "-y"], ["forwards", "app", "--fake"]]) {
    const r = await tide(args, { cwd: root, env });
    assertEquals(r.code, 1, r.stderr);
    assert(r.stderr.includes(`${masked} is a standby (pg_is_in_recovery() is true)`), r.stderr);
    assertMatch(r.stderr, /Point tide at the primary .*target_session_attrs=primary/);
    assertNotMatch(r.stderr, /s3cret|read-only transaction|25006/);
  }
  // backwards without -y: refused before the prompt (no terminal would be a usage error, exit 2).
  const asked = await tide(["backwards", "app"], { cwd: root, env });
  assertEquals(asked.code, 1, asked.stderr);
  assertMatch(asked.stderr, /is a standby/);
  const j = JSON.parse((await tide(["forwards", "app", "--json"], { cwd: root, env })).stdout);
  assertEquals(j.success, false);
  assertMatch(j.message, /is a standby/);
  const unlock = await tide(["unlock"], { cwd: root, env });
  assertEquals(unlock.code, 1);
  assertMatch(unlock.stderr, /is a standby/);

  // verify needs a scratch database, which a standby cannot create: it says so and how.
  const v = await tide(["verify", "app"], { cwd: root, env });
  assertEquals(v.code, 1, v.stderr);
  assertMatch(v.stderr, /cannot create its scratch database .*read-only transaction \(SQLSTATE 25006\).*--scratch-url/);

  // Read-only commands work on the standby.
  const check = await tide(["check"], { cwd: root, env });
  assertEquals(check.code, 0, check.stderr);
  assertMatch(check.stdout, new RegExp(`${idOf(1)}.*\\n.*${idOf(2)}`));
  const preview = await tide(["forwards", "app", "--preview"], { cwd: root, env });
  assertEquals(preview.code, 0, preview.stderr);
  assertMatch(preview.stdout, /CREATE TABLE "t2"/);
  const back = await tide(["backwards", "app", "--preview"], { cwd: root, env });
  assertEquals(back.code, 0, back.stderr);
  assertMatch(back.stdout, /DROP TABLE "t1"/);

  // The primary saw nothing: no history row, no lock table.
  assertEquals(await primaryState(db.primary), { history: [idOf(1)], tables: ["migration", "t1"] });
});

standbyTest("multi-host URLs reach the server target_session_attrs asks for", async (db) => {
  const root = await makeProject({ app: { migrations: MIGRATIONS } });
  const url = (hosts: string[], attrs?: string) =>
    `postgres://postgres:s3cret@${hosts.join(",")}/${db.name}${attrs ? `?target_session_attrs=${attrs}` : ""}`;
  const run = (args: string[], u: string) => tide(args, { cwd: root, env: { TIDE_DATABASE_URL: u } });
  const S = db.standbyHost;
  const P = db.primaryHost;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dead = `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  listener.close();

  // Standby listed first: primary and read-write still reach the primary.
  let r = await run(["forwards", "app", "1"], url([S, P], "primary"));
  assertEquals(r.code, 0, r.stderr);
  r = await run(["forwards", "app"], url([dead, S, P], "read-write"));
  assertEquals(r.code, 0, r.stderr);
  assertEquals((await primaryState(db.primary)).history, [idOf(1), idOf(2)]);
  r = await run(["backwards", "app", "-y"], url([S, P], "read-write"));
  assertEquals(r.code, 0, r.stderr);
  assertEquals((await primaryState(db.primary)).history, [idOf(1)]);
  await db.caughtUp();

  // standby, prefer-standby, read-only, and any (the first host) land on the standby: reads
  // work, writes are refused naming the host chosen.
  for (
    const [hosts, attrs] of [[[P, S], "standby"], [[P, S], "prefer-standby"], [[P, S], "read-only"], [
      [S, P],
      "any",
    ]] as const
  ) {
    const u = url([...hosts], attrs);
    const check = await run(["check", "--json"], u);
    assertEquals(check.code, 0, check.stderr);
    assertEquals(JSON.parse(check.stdout).filter((m: { hasRan: boolean }) => m.hasRan).length, 1);
    const w = await run(["forwards", "app"], u);
    assertEquals(w.code, 1, `${attrs}: ${w.stderr}`);
    assert(w.stderr.includes(`postgres://postgres:***@${S}/${db.name} (the host chosen from`), w.stderr);
    assertNotMatch(w.stderr, /s3cret/);
  }
  // prefer-standby without a standby takes the primary.
  r = await run(["forwards", "app"], url([dead, P], "prefer-standby"));
  assertEquals(r.code, 0, r.stderr);

  // No host fits: every host is named with why.
  r = await run(["check"], url([dead, S], "primary"));
  assertEquals(r.code, 1);
  assertMatch(r.stderr, new RegExp(`no host fits target_session_attrs=primary \\(${dead}: .*; ${S}: is a standby`));
  assertMatch(r.stderr, /Add the primary's host to the URL/);
  assertNotMatch(r.stderr, /s3cret/);
  r = await run(["check"], url([P], "standby"));
  assertEquals(r.code, 1);
  assertMatch(r.stderr, new RegExp(`${P}: is a primary, accepting writes`));

  // An unknown value is a usage error.
  r = await run(["check"], url([P, S], "bogus"));
  assertEquals(r.code, 2, r.stderr);
  assertMatch(
    r.stderr,
    /Unknown target_session_attrs "bogus".*any, read-write, read-only, primary, standby, prefer-standby/,
  );
});
