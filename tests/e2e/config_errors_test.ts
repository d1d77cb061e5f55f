/**
 * Usage and configuration errors (exit 2), malformed migration modules (exit 1, naming the
 * file, before anything runs), and passwords never shown (SPEC 1, 4).
 */

import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { assertEquals, assertMatch, assertNotMatch } from "../helpers/assert.ts";
import { eachBackend, history, idOf, postgresTest, tableMigration, tables } from "../helpers/backends.ts";
import { makeProject, tide } from "../helpers/cli.ts";

eachBackend("a bad tide.json: exit 2 naming the key or app; nothing touches the database", async ({ url }) => {
  const root = await makeProject({ app: { migrations: [tableMigration(1)] } });
  const env = { TIDE_DATABASE_URL: url };
  await mkdir(join(root, "b"));
  const cases: [string, RegExp][] = [
    [`{"apps": {"app": {"migrations": "app/migrations"}}, "colour": 1}`, /Unknown key "colour"/],
    [`{"apps": {"app": {"migrations": "app/migrations", "dependson": []}}}`, /Unknown key "dependson" in app "app"/],
    [
      `{"apps": {"app": {"migrations": "nowhere"}}}`,
      /app "app" .*nowhere.*apps\.app\.migrations|apps\.app\.migrations[\s\S]*nowhere/,
    ],
    [
      `{"apps": {"app": {"migrations": "app/migrations", "dependsOn": ["ghost"]}}}`,
      /"app" depends on unknown app "ghost"/,
    ],
    [
      `{"apps": {"app": {"migrations": "app/migrations", "dependsOn": ["b"]}, "b": {"migrations": "b", "dependsOn": ["app"]}}}`,
      /cycle between apps "app", "b"/,
    ],
    [`{"apps": {"app": {"migrations": "app/migrations"}}`, /Cannot parse .*tide\.json/],
    [`{"apps": {}}`, /"apps"/],
    [`{"migrationTable": 3, "apps": {"app": {"migrations": "app/migrations"}}}`, /"migrationTable"/],
  ];
  for (const [text, pattern] of cases) {
    await writeFile(join(root, "tide.json"), text);
    for (const args of [["backwards", "app", "-y"], ["forwards", "all"], ["check"], ["new", "app"]]) {
      const r = await tide(args, { cwd: root, env });
      assertEquals(r.code, 2, `${text} ${args.join(" ")}: ${r.stderr}`);
      assertMatch(r.stderr, pattern, text);
    }
  }
  assertEquals(await tables(url), []);

  // Comments are allowed (JSONC); --config finds a file elsewhere, paths relative to it.
  await writeFile(
    join(root, "tide.json"),
    `{\n  // the one app\n  "apps": {"app": {"migrations": "app/migrations",},},\n}`,
  );
  assertEquals((await tide(["forwards", "all"], { cwd: root, env })).code, 0);
  const elsewhere = await Deno.makeTempDir();
  const r = await tide(["--config", join(root, "tide.json"), "backwards", "app", "-y"], { cwd: elsewhere, env });
  assertEquals(r.code, 0, r.stderr);
  // No tide.json at all: exit 2, saying where it looked.
  const none = await tide(["check"], { cwd: elsewhere, env });
  assertEquals(none.code, 2);
  assertMatch(none.stderr, /tide\.json/);
});

eachBackend("bad flags and arguments: exit 2", async ({ url }) => {
  const root = await makeProject({ app: { migrations: [tableMigration(1)] } });
  const env = { TIDE_DATABASE_URL: url };
  for (
    const args of [
      ["backwards", "app", "--bogus"],
      ["backwards"],
      ["backwards", "app", "0", "-y"],
      ["backwards", "app", "-y", "--lock-timeout", "soon"],
      ["frobnicate"],
      [],
    ]
  ) {
    const r = await tide(args, { cwd: root, env });
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assertMatch(r.stderr, /\S/);
  }
  assertEquals(await tables(url), []);
  // --help and --version succeed.
  assertEquals((await tide(["--help"], { cwd: root, env })).code, 0);
  assertEquals((await tide(["backwards", "--help"], { cwd: root, env })).code, 0);
  assertMatch((await tide(["--version"], { cwd: root, env })).stdout, /\d+\.\d+\.\d+/);
});

eachBackend("a malformed migration module: exit 1 naming the file, before anything runs", async ({ url }) => {
  const env = { TIDE_DATABASE_URL: url };
  const broken: [string, string, RegExp][] = [
    ["syntax.ts", `export const ID = "x-1";\nexport async function forwards( {`, /Cannot import migration/],
    ["noid.ts", `export async function forwards({ manager }) { return manager; }`, /does not export ID/],
    ["nofwd.ts", `export const ID = "x-2";`, /does not export a forwards function/],
    [
      "badid.ts",
      `export const ID = "12345";\nexport async function forwards({ manager }) { return manager; }`,
      /invalid ID/,
    ],
    [
      "throws.ts",
      `export const ID = "x-3";\nexport async function forwards() { throw new Error("kaboom"); }`,
      /kaboom/,
    ],
    [
      "dup.ts",
      `export const ID = "${idOf(1)}";\nexport async function forwards({ manager }) { return manager; }`,
      /Duplicate migration ID/,
    ],
  ];
  for (const [file, text, pattern] of broken) {
    const root = await makeProject({ app: { migrations: [tableMigration(1)] } });
    await writeFile(join(root, "app", "migrations", file), text);
    const r = await tide(["forwards", "app"], { cwd: root, env });
    assertEquals(r.code, 1, `${file}: ${r.stderr}`);
    assertMatch(r.stderr, pattern, file);
    assertMatch(r.stderr, new RegExp(file.replace(".", "\\.")), file);
    // Nothing ran: the valid migration beside it was not applied.
    assertEquals(await history(url), [], file);
    assertNotMatch(await tables(url).then((t) => t.join(" ")), /t1/);
  }
});

/** Assert that a secret never shows, in either stream. */
function assertHidden(r: { stdout: string; stderr: string }, secret: string): void {
  assertNotMatch(r.stdout + r.stderr, new RegExp(secret), r.stdout + r.stderr);
}

// No database needed: every URL here fails before one is opened.
Deno.test("passwords never appear in messages (connection failures, bad URLs, JSON)", async () => {
  const root = await makeProject({ app: { migrations: [tableMigration(1)] } });
  const bad = "postgres://u:hunter2@127.0.0.1:1/x";
  const runs = [
    await tide(["backwards", "app", "-y", "--database-url", bad], { cwd: root }),
    await tide(["forwards", "all", "--json", "--database-url", bad], { cwd: root }),
    await tide(["check"], { cwd: root, env: { TIDE_DATABASE_URL: bad } }),
    await tide(["backwards", "app", "--preview"], { cwd: root, env: { DATABASE_URL: bad } }),
  ];
  for (const r of runs) {
    assertEquals(r.code, 1, r.stderr);
    assertHidden(r, "hunter2");
    assertMatch(r.stdout + r.stderr, /127\.0\.0\.1/);
  }
  JSON.parse(runs[1]!.stdout);
  // An unsupported URL is a usage error, masked too; so is one from tide.json.
  const mysql = await tide(["check", "--database-url", "mysql://u:hunter2@h/x"], { cwd: root });
  assertEquals(mysql.code, 2);
  assertHidden(mysql, "hunter2");
  assertMatch(mysql.stderr, /mysql:\/\/u:\*\*\*@h\/x/);
  await writeFile(
    join(root, "tide.json"),
    JSON.stringify({ database: bad, apps: { app: { migrations: "app/migrations" } } }),
  );
  const fromFile = await tide(["forwards", "all"], { cwd: root });
  assertEquals(fromFile.code, 1);
  assertHidden(fromFile, "hunter2");
});

postgresTest("a password in a working URL is masked in previews and progress", async (url) => {
  // The test server trusts everyone: any password connects.
  const withPassword = url.replace("://postgres@", "://postgres:hunter2@");
  if (withPassword === url) throw new Error(`cannot add a password to ${url}`);
  const root = await makeProject({ app: { migrations: [tableMigration(1)] } });
  const env = { TIDE_DATABASE_URL: withPassword };
  const runs = [
    await tide(["forwards", "app", "--preview"], { cwd: root, env }),
    await tide(["forwards", "app"], { cwd: root, env }),
    await tide(["backwards", "app"], { cwd: root, env }),
    await tide(["backwards", "app", "--preview"], { cwd: root, env }),
    await tide(["backwards", "app", "-y", "--json"], { cwd: root, env }),
  ];
  assertMatch(runs[0]!.stdout, /-- database: postgres:\/\/postgres:\*\*\*@/);
  for (const r of runs) assertHidden(r, "hunter2");
  assertEquals(runs.map((r) => r.code), [0, 0, 2, 0, 0]);
});
