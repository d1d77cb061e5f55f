/**
 * `forwards` of many migrations records them in Workers (src/loader/workers.ts): the plan and
 * the run are the same as with every file imported here, the files the Workers recorded are
 * never imported into this isolate, and a file they cannot record (a function step, a
 * hand-written backwards, a failing import, a wrong ID) is imported here and reported as
 * before.
 */

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { executePlan, PLAN_BATCH, planForwards } from "../../src/engine/commands.ts";
import { makeSession } from "../../src/engine/session.ts";
import { verify } from "../../src/engine/verify.ts";
import { recordInWorkers } from "../../src/loader/workers.ts";
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { eachDatabase } from "../helpers/databases.ts";
import { makeProject } from "../helpers/cli.ts";
import { idOf } from "../helpers/backends.ts";

const N = 12;
const MARK = "__tideWorkerTestImported";

/** A migration whose import leaves its ID in this isolate's global `MARK` list. */
function file(n: number, forwards: string, extra = ""): string {
  return `const seen = (globalThis as Record<string, unknown>).${MARK} as string[] | undefined;\n` +
    `(globalThis as Record<string, unknown>).${MARK} = [...(seen ?? []), ${JSON.stringify(idOf(n))}];\n` +
    `export const ID = ${JSON.stringify(idOf(n))};\nexport const DESCRIPTION = "m${n}";\n` +
    `export async function forwards({ manager }) {\n${forwards}\n  return manager;\n}\n${extra}`;
}

const nameOf = (n: number) => `${idOf(n).replace(/[:-]/g, "_")}_m.ts`;
const imported = () => ((globalThis as Record<string, unknown>)[MARK] as string[] | undefined) ?? [];

async function project(): Promise<string> {
  const root = await makeProject({ app: { migrations: [] } });
  const dir = join(root, "app", "migrations");
  for (let n = 1; n <= N; n++) {
    const table = `manager.addTable("w${n}", { id: "serial primary key" });\n  manager.addIndex("w${n}", ["id"]);`;
    // 5: a raw step that is a function; 7: a hand-written backwards. Both only here.
    const body = n === 5
      ? `${table}\n  manager.addRaw(async (db) => { await db.query("select 1"); }, "select 1");`
      : table;
    const extra = n === 7
      ? `export async function backwards({ manager }) { manager.dropTable("w7"); return manager; }\n`
      : "";
    await writeFile(join(dir, nameOf(n)), file(n, body, extra));
  }
  return root;
}

eachDatabase("forwards of many: recorded in Workers, the same plan and run, none imported here", async (t) => {
  const root = await project();
  const config = await loadConfig(join(root, "tide.json"), root);
  const plan = async (workerAbove: number) =>
    await planForwards(makeSession(config, t.db, t.url), {
      app: "app",
      target: { kind: "all" },
      workerAbove,
      lightAbove: PLAN_BATCH,
    });
  const before = imported().length;
  const viaWorkers = await plan(N - 1);
  // Only the two the Workers cannot send were imported into this isolate.
  assertEquals(imported().slice(before).sort(), [idOf(5), idOf(7)]);
  const here = await plan(N);
  // Every file now (a new session imports again; modules are evaluated once per isolate).
  assertEquals(imported().slice(before).length, 2 + (N - 2));
  // Functions aside (a raw step's closure is new at each recording), the very same plan.
  const shape = (p: typeof here) =>
    JSON.stringify(p.migrations.map((m) => [m.id, m.description, m.transactional, m.irreversible, m.operations]));
  assertEquals(shape(viaWorkers), shape(here));
  assert(viaWorkers.migrations.every((m) => m.operations.length >= 2), "planned in full");

  const result = await executePlan(makeSession(config, t.db, t.url), viaWorkers, {});
  assert(result.success, JSON.stringify(result.outcomes.find((o) => o.error)));
  assertEquals(result.outcomes.map((o) => o.status), Array(N).fill("applied"));
  const [row] = await t.db.query<{ n: number }>(
    "select count(*)::int as n from pg_tables where schemaname = 'public' and tablename ~ '^w[0-9]+$'",
  );
  assertEquals(row!.n, N);
});

eachDatabase("forwards of many: a file the Workers cannot record is reported as without them", async (t) => {
  const request = { app: "app", target: { kind: "all" as const }, workerAbove: 1 };
  const broken = await project();
  await writeFile(join(broken, "app", "migrations", nameOf(N + 1)), `throw new Error("broken at import");\n`);
  const config = await loadConfig(join(broken, "tide.json"), broken);
  await assertRejects(() => planForwards(makeSession(config, t.db, t.url), request), /broken at import/);
  const misnamed = await project();
  await writeFile(
    join(misnamed, "app", "migrations", nameOf(N + 1)),
    file(N + 2, `manager.addTable("x", { id: "int" });`),
  );
  const other = await loadConfig(join(misnamed, "tide.json"), misnamed);
  await assertRejects(() => planForwards(makeSession(other, t.db, t.url), request), /exports ID .* but its name says/);
});

eachDatabase("verify of many: recorded in Workers, every round trip proven, none imported here", async (t) => {
  const root = await project();
  const config = await loadConfig(join(root, "tide.json"), root);
  const before = imported().length;
  const result = await verify(makeSession(config, t.db, t.url), { app: "app", target: { kind: "all" } }, {
    workerAbove: N - 1,
  });
  assert(result.success, JSON.stringify(result.migrations.find((m) => m.status !== "ok")));
  assertEquals(result.migrations.map((m) => m.status), Array(N).fill("ok"));
  assertEquals(imported().slice(before).sort(), [idOf(5), idOf(7)]);
});

Deno.test("recordInWorkers: operations as data, undefined for what only the main isolate can take", async () => {
  const root = await project();
  const dir = join(root, "app", "migrations");
  const records = await recordInWorkers("app", [1, 5, 7].map((n) => join(dir, nameOf(n))), 2);
  assertEquals(records.map((r) => r?.id), [idOf(1), undefined, undefined]);
  assertEquals(records[0]!.operations.map((o) => o.kind), ["addTable", "addIndex"]);
  assertEquals(records[0]!.description, "m1");
});
