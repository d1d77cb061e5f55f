/** Pure parts of retention (issue 15): names within 63 bytes, ages, options, rendering. */

import { parseAge } from "../../src/engine/retained.ts";
import { MigrationManager } from "../../src/migration/manager.ts";
import { renderBackwards, renderForwards } from "../../src/migration/render.ts";
import { fitName, retainedPrefix } from "../../src/retention/capture.ts";
import { resolveRetain } from "../../src/retention/plan.ts";
import { assert, assertEquals, assertMatch, assertThrows } from "../helpers/assert.ts";

Deno.test("retained names are unique per app, migration and operation, and fit in 63 bytes", async () => {
  const a = await retainedPrefix({ app: "shop", migration: "2026-01-01T00:00:00:000001", index: 0 });
  const b = await retainedPrefix({ app: "shop", migration: "2026-01-01T00:00:00:000002", index: 0 });
  const c = await retainedPrefix({ app: "blog", migration: "2026-01-01T00:00:00:000001", index: 0 });
  const d = await retainedPrefix({ app: "shop", migration: "2026-01-01T00:00:00:000001", index: 3 });
  assertEquals(new Set([a, b, c, d]).size, 4);
  assertMatch(a, /^r[0-9a-f]{10}_0_$/);
  const long = fitName(a, "x".repeat(100));
  assertEquals(new TextEncoder().encode(long).length, 63);
  // Multi-byte names are cut on a character boundary.
  const accented = fitName(a, "é".repeat(40));
  assert(new TextEncoder().encode(accented).length <= 63);
  assert(!accented.includes("\uFFFD"));
  assertEquals(fitName(a, "band"), `${a}band`);
});

Deno.test("--older-than ages", () => {
  assertEquals(parseAge("30d"), 30 * 86_400_000);
  assertEquals(parseAge("12h"), 12 * 3_600_000);
  assertEquals(parseAge("2w"), 2 * 604_800_000);
  assertEquals(parseAge("90m"), 90 * 60_000);
  assertEquals(parseAge("45s"), 45_000);
  assertEquals(parseAge("30"), undefined);
  assertEquals(parseAge("soon"), undefined);
});

Deno.test("dropTable/dropColumn take { retain } and nothing else", () => {
  const m = new MigrationManager();
  m.dropTable("a", { retain: true }).dropColumn("b", "c", { retain: false }).dropTable("d");
  assertEquals(m.operations, [
    { kind: "dropTable", table: "a", retain: true },
    { kind: "dropColumn", table: "b", column: "c", retain: false },
    { kind: "dropTable", table: "d" },
  ]);
  assertThrows(() => m.dropTable("a", { keep: true } as never), /unknown option "keep"/);
  assertThrows(() => m.dropTable("a", { retain: "yes" } as never), /"retain" must be true or false/);
});

Deno.test("retainDropped is the default; { retain: false } and hand-written backwards override it", () => {
  const ops = [
    { kind: "dropTable", table: "a" },
    { kind: "dropTable", table: "b", retain: false },
    { kind: "dropColumn", table: "c", column: "x", retain: true },
  ] as const;
  assertEquals(resolveRetain(ops, true, false).operations.map((o) => "retain" in o && o.retain), [true, false, true]);
  assertEquals(resolveRetain(ops, false, false).operations.map((o) => "retain" in o && o.retain), [false, false, true]);
  const handWritten = resolveRetain(ops, true, true);
  assertEquals(handWritten.operations.map((o) => "retain" in o && o.retain), [false, false, false]);
  assertMatch(
    handWritten.warnings.join(),
    /dropColumn\("c", "x"\): not retained, because the migration has a hand-written backwards/,
  );
});

Deno.test("a retained drop destroys nothing and retains its object; after a purge backwards says the rows are gone", () => {
  const op = { kind: "dropTable", table: "band", retain: true } as const;
  const planned = renderForwards(op, 0);
  assertEquals(planned.destroys, []);
  assertEquals(planned.retains, [{ kind: "table", table: "band" }]);
  const capture = {
    kind: "table" as const,
    table: "public.band",
    columns: [{
      name: "id",
      type: "integer",
      collation: null,
      notNull: true,
      default: null,
      identity: "",
      generated: null,
      comment: null,
    }],
    constraints: [],
    indexes: [],
    inbound: [],
    sequences: [],
    comment: null,
    retained: {
      kind: "table" as const,
      app: "a",
      migration: "m",
      name: "r0_0_band",
      relations: [{ kind: "table" as const, schema: "public", name: "band", retained: "r0_0_band" }],
      partitionOf: null,
      publications: [],
    },
  };
  const back = renderBackwards(op, 0, capture);
  assertEquals(back.steps.map((s) => "sql" in s && s.sql).slice(0, 2), [
    'ALTER TABLE "tide_retained"."r0_0_band" SET SCHEMA "public"',
    'ALTER TABLE "public"."r0_0_band" RENAME TO "band"',
  ]);
  const purged = renderBackwards(op, 0, {
    ...capture,
    retained: { ...capture.retained, purgedAt: "2026-12-01T00:00:00Z" },
  });
  assertEquals(purged.steps.map((s) => "sql" in s && s.sql), ['CREATE TABLE public.band ("id" integer NOT NULL)']);
  assertMatch(purged.notes.join(), /rows of table "band" are not restored: its retained copy was purged \(2026-12-01/);
});
