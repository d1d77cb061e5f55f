/**
 * The confirmation prompt, answered in a real pseudo-terminal; and never waiting without one.
 */

import { openDatabase } from "../../src/db/open.ts";
import { assertEquals, assertMatch } from "../helpers/assert.ts";
import { makeProject, tide, tideInTerminal } from "../helpers/cli.ts";
import { eachBackend } from "../helpers/databases.ts";

const migrations = [1, 2].map((n) => ({
  id: `2026-01-01T00:00:00:00000${n}`,
  body: `  manager.addTable("t${n}", { id: "int" });`,
}));

async function count(url: string): Promise<number> {
  const db = await openDatabase(url);
  try {
    return (await db.query<{ n: number }>("select count(*)::int as n from migration"))[0]!.n;
  } finally {
    await db.close();
  }
}

eachBackend("the prompt: y, Y and yes proceed; empty, n and EOF do not", async ({ url }) => {
  const root = await makeProject({ app: { migrations } });
  const env = { TIDE_DATABASE_URL: url };
  for (
    const [input, proceeds] of [["y\n", true], ["Y\n", true], ["yes\n", true], ["\n", false], ["n\n", false], [
      "\x04",
      false,
    ]] as const
  ) {
    assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
    const before = await count(url);
    const r = await tideInTerminal(["backwards", "app"], { cwd: root, env, input });
    assertMatch(
      r.screen,
      /About to reverse 1 migration\(s\) of app app[\s\S]*Reverse 1 migration\(s\)\? \[y\/N\]/,
      JSON.stringify(input),
    );
    if (proceeds) {
      assertEquals(r.code, 0, `${JSON.stringify(input)}: ${r.screen}`);
      assertEquals(await count(url), before - 1);
    } else {
      assertEquals(r.code, 1, `${JSON.stringify(input)}: ${r.screen}`);
      assertMatch(r.screen, /Not proceeding\./);
      assertEquals(await count(url), before);
    }
  }
});

eachBackend(
  "without a terminal and without --auto-agree: exit 2 at once, saying to pass --auto-agree",
  async ({ url }) => {
    const root = await makeProject({ app: { migrations } });
    const env = { TIDE_DATABASE_URL: url };
    assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
    const r = await tide(["backwards", "app"], { cwd: root, env, stdin: "y\n" });
    assertEquals(r.code, 2);
    assertMatch(r.stderr, /standard input is not a terminal\. Pass --auto-agree/);
    assertEquals(await count(url), 2);
    const json = await tide(["backwards", "app", "--json"], { cwd: root, env });
    assertEquals(json.code, 2);
    assertEquals(JSON.parse(json.stdout).success, false);
  },
);
