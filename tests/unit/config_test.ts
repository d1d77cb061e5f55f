import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chooseDatabase, loadConfig, sortApps } from "../../src/config.ts";
import { parseJsonc } from "../../src/jsonc.ts";
import { maskPasswords } from "../../src/mask.ts";
import { ConfigError } from "../../src/errors.ts";
import { assertEquals, assertRejects, assertThrows } from "../helpers/assert.ts";

const app = (name: string, dependsOn: string[] = []) => ({ name, migrationsDir: `/x/${name}`, dependsOn });

Deno.test("sortApps() puts dependencies first, ties by name", () => {
  const sorted = sortApps([app("blog", ["auth"]), app("zoo"), app("auth"), app("api", ["blog"])]);
  assertEquals(sorted.map((a) => a.name), ["auth", "blog", "api", "zoo"]);
});

Deno.test("sortApps() names an unknown dependency and a cycle", () => {
  assertThrows(() => sortApps([app("blog", ["nope"])]), /App "blog" depends on unknown app "nope"/);
  assertThrows(() => sortApps([app("a", ["b"]), app("b", ["a"]), app("c")]), /Dependency cycle between apps "a", "b"/);
});

Deno.test("parseJsonc() accepts comments and trailing commas, keeps strings intact", () => {
  assertEquals(parseJsonc('{ // c\n "a": "http://x/*y*/", /* b */ "b": [1, 2,], }'), { a: "http://x/*y*/", b: [1, 2] });
  assertThrows(() => parseJsonc('{\n "a": }'), /line 2/);
});

Deno.test("maskPasswords() hides URL passwords and password= keywords", () => {
  assertEquals(
    maskPasswords("postgres://app:s3cret@db:5432/x and postgresql://u:p%40ss@h/y"),
    "postgres://app:***@db:5432/x and postgresql://u:***@h/y",
  );
  assertEquals(maskPasswords("host=db password=hunter2 user=x"), "host=db password=*** user=x");
  assertEquals(maskPasswords("postgres://app@db/x"), "postgres://app@db/x");
});

Deno.test("chooseDatabase() takes the flag, then TIDE_DATABASE_URL, DATABASE_URL, tide.json, else pglite", () => {
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  const config = { root: "/p", database: "postgres://c/db" };
  assertEquals(
    chooseDatabase(config, "postgres://f/db", env({ TIDE_DATABASE_URL: "postgres://t/db" })).source,
    "--database-url",
  );
  assertEquals(
    chooseDatabase(config, undefined, env({ TIDE_DATABASE_URL: "postgres://t/db", DATABASE_URL: "postgres://d/db" }))
      .url,
    "postgres://t/db",
  );
  assertEquals(chooseDatabase(config, undefined, env({ DATABASE_URL: "postgres://d/db" })).url, "postgres://d/db");
  assertEquals(chooseDatabase(config, undefined, env({})).url, "postgres://c/db");
  assertEquals(chooseDatabase({ root: "/p", database: undefined }, undefined, env({})), {
    url: "pglite:/p/.tide/pglite",
    source: "default",
  });
  assertEquals(chooseDatabase(config, "pglite:memory", env({})).url, "pglite:memory");
  assertThrows(
    () => chooseDatabase(config, "mysql://u:pw@h/x", env({})),
    /Unsupported database URL "mysql:\/\/u:\*\*\*@h\/x"/,
  );
});

Deno.test("loadConfig() names unknown keys, missing folders and bad values", async () => {
  const root = await mkdtemp(join(tmpdir(), "tide-config-"));
  await mkdir(join(root, "a"));
  const write = (value: unknown) => writeFile(join(root, "tide.json"), JSON.stringify(value));
  await write({ apps: { a: { migrations: "a" } }, colour: "blue" });
  await assertRejects(() => loadConfig("tide.json", root), /Unknown key "colour"/);
  await write({ apps: { a: { migrations: "a", depends: [] } } });
  await assertRejects(() => loadConfig("tide.json", root), /Unknown key "depends" in app "a"/);
  await write({ apps: { a: { migrations: "missing" } } });
  await assertRejects(() => loadConfig("tide.json", root), /migrations folder of app "a" does not exist/);
  await write({ apps: {} });
  await assertRejects(() => loadConfig("tide.json", root), /Missing "apps"/);
  await write({ apps: { a: { migrations: "a" } } });
  const config = await loadConfig("tide.json", root);
  assertEquals(config.migrationTable, "migration");
  assertEquals(config.apps[0]?.migrationsDir, join(root, "a"));
  await assertRejects(() => loadConfig("nope.json", root), /Cannot read .*nope\.json/);
  try {
    await loadConfig("nope.json", root);
  } catch (error) {
    assertEquals(error instanceof ConfigError && error.exitCode, 2);
  }
});
