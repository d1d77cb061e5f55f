/**
 * The confirmation before a rollback (SPEC 3), answered through a real pseudo-terminal; no
 * TTY without --auto-agree; the spellings of --auto-agree.
 */

import { assertEquals, assertMatch, assertNotMatch } from "../helpers/assert.ts";
import { eachBackend, history, idOf, tableMigration } from "../helpers/backends.ts";
import { makeProject, tide, tideInTerminal } from "../helpers/cli.ts";

const THREE = [1, 2, 3].map((n) => tableMigration(n));
const ran = (...ns: number[]) => ns.map((n) => `app ${idOf(n)}`);

eachBackend("the prompt: y, Y and yes proceed; empty, n and end of input decline", async ({ url }) => {
  const root = await makeProject({ app: { migrations: THREE } });
  const env = { TIDE_DATABASE_URL: url };
  assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);

  // Each agreeing answer reverses the most recent one.
  let left = 3;
  for (const answer of ["y\n", "Y\n", "yes\n"]) {
    const run = await tideInTerminal(["backwards", "app"], { cwd: root, env, input: answer });
    assertEquals(run.code, 0, run.screen);
    assertMatch(run.screen, /About to reverse 1 migration\(s\) of app app/);
    assertMatch(run.screen, new RegExp(`app ${idOf(left)}  Create t${left}`));
    assertMatch(run.screen, /Reverse 1 migration\(s\)\? \[y\/N\]/);
    assertMatch(run.screen, /Reversed 1 migration\(s\)/);
    assertNotMatch(run.screen, /Not proceeding/);
    left--;
    assertEquals(await history(url), ran(...[1, 2, 3].slice(0, left)));
  }

  assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
  // "YES" is yes in any case; "yep", "no", an empty line and end of input (^D) are not.
  for (const answer of ["\n", "n\n", "\x04", "yep\n", "no\n"]) {
    const run = await tideInTerminal(["backwards", "app", "2"], { cwd: root, env, input: answer });
    assertEquals(run.code, 1, `${JSON.stringify(answer)}: ${run.screen}`);
    assertMatch(run.screen, /Reverse 2 migration\(s\)\? \[y\/N\]/);
    assertMatch(run.screen, /Not proceeding\./);
    assertNotMatch(run.screen, /Reversed/);
    assertEquals(await history(url), ran(1, 2, 3), JSON.stringify(answer));
  }
  const run = await tideInTerminal(["backwards", "app", "2"], { cwd: root, env, input: "YES\n" });
  assertEquals(run.code, 0, run.screen);
  assertEquals(await history(url), ran(1));
});

eachBackend("backwards all asks once, listing the apps, in a terminal", async ({ url }) => {
  const root = await makeProject({
    zeta: { migrations: [tableMigration(1)] },
    alpha: { migrations: [tableMigration(2)], dependsOn: ["zeta"] },
  });
  const env = { TIDE_DATABASE_URL: url };
  assertEquals((await tide(["forwards", "all"], { cwd: root, env })).code, 0);
  const run = await tideInTerminal(["backwards", "all"], { cwd: root, env, input: "y\n" });
  assertEquals(run.code, 0, run.screen);
  assertEquals((run.screen.match(/\[y\/N\]/g) ?? []).length, 1, run.screen);
  assertMatch(run.screen, /About to reverse 2 migration\(s\) of apps alpha, zeta/);
  assertMatch(run.screen, /alpha 2026-01-01T00:00:00:000002[\s\S]*zeta 2026-01-01T00:00:00:000001/);
  assertEquals(await history(url), []);
});

eachBackend(
  "no TTY and no --auto-agree: exit 2 naming --auto-agree; -y, --auto-agree, --auto_agree proceed",
  async ({ url }) => {
    const root = await makeProject({ app: { migrations: THREE } });
    const env = { TIDE_DATABASE_URL: url };
    assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);

    // A pipe is not a terminal, even with "y" in it: tide never reads an answer from a pipe.
    for (const stdin of [undefined, "y\n"]) {
      const r = await tide(["backwards", "app"], { cwd: root, env, ...(stdin ? { stdin } : {}) });
      assertEquals(r.code, 2, r.stderr);
      assertMatch(r.stderr, /--auto-agree/);
      assertEquals(await history(url), ran(1, 2, 3));
    }

    let left = 3;
    for (const flag of ["-y", "--auto-agree", "--auto_agree"]) {
      const r = await tide(["backwards", "app", flag], { cwd: root, env });
      assertEquals(r.code, 0, `${flag}: ${r.stderr}`);
      assertNotMatch(r.stderr, /\[y\/N\]/);
      left--;
      assertEquals(await history(url), ran(...[1, 2, 3].slice(0, left)), flag);
    }
  },
);
