import { selectBackwards, selectForwards } from "../../src/engine/select.ts";
import { parseTarget } from "../../src/engine/target.ts";
import type { HistoryRow } from "../../src/engine/history.ts";
import { idFromFileName, isValidId } from "../../src/loader/load.ts";
import { freshId } from "../../src/cli/new.ts";
import { assertEquals, assertThrows } from "../helpers/assert.ts";

const row = (id: string): HistoryRow => ({
  app: "a",
  id,
  ranOn: "",
  description: null,
  checksum: null,
  reversal: null,
});
const applied = ["m1", "m2", "m3", "m4"].map(row);

Deno.test("parseTarget() reads all, counts and IDs; IDs are never all digits", () => {
  assertEquals(parseTarget("all"), { kind: "all" });
  assertEquals(parseTarget("3"), { kind: "count", count: 3 });
  assertEquals(parseTarget("2026-01-01T00:00:00:000001"), { kind: "id", id: "2026-01-01T00:00:00:000001" });
  assertThrows(() => parseTarget("0"), /1 or more/);
});

Deno.test("selectBackwards() picks the most recent first, down to and including an ID", () => {
  assertEquals(selectBackwards("a", applied, { kind: "count", count: 1 }).map((r) => r.id), ["m4"]);
  assertEquals(selectBackwards("a", applied, { kind: "count", count: 9 }).map((r) => r.id), ["m4", "m3", "m2", "m1"]);
  assertEquals(selectBackwards("a", applied, { kind: "all" }).map((r) => r.id), ["m4", "m3", "m2", "m1"]);
  assertEquals(selectBackwards("a", applied, { kind: "id", id: "m3" }).map((r) => r.id), ["m4", "m3"]);
  assertThrows(
    () => selectBackwards("a", applied, { kind: "id", id: "m9" }),
    /"m9" of app "a" has not run.*m4, m3, m2, m1/,
  );
  assertEquals(selectBackwards("a", [], { kind: "count", count: 1 }), []);
});

Deno.test("selectForwards() picks pending in order, up to and including an ID", () => {
  assertEquals(selectForwards("a", ["p1", "p2", "p3"], new Set(), { kind: "count", count: 2 }), ["p1", "p2"]);
  assertEquals(selectForwards("a", ["p1", "p2", "p3"], new Set(), { kind: "id", id: "p2" }), ["p1", "p2"]);
  assertEquals(selectForwards("a", ["p1"], new Set(["m1"]), { kind: "id", id: "m1" }), []);
  assertThrows(
    () => selectForwards("a", ["p1"], new Set(), { kind: "id", id: "zz" }),
    /no migration "zz".*Pending IDs: p1/,
  );
});

Deno.test("idFromFileName() reads the ID of files named by tide new; isValidId() refuses targets", () => {
  assertEquals(idFromFileName("2026_11_22T10_34_26_392882_create_band.ts"), "2026-11-22T10:34:26:392882");
  assertEquals(idFromFileName("band.ts"), undefined);
  assertEquals(isValidId("all"), false);
  assertEquals(isValidId("123"), false);
  assertEquals(isValidId("a b"), false);
  assertEquals(isValidId("2021-08-11T16:41:15"), true);
});

Deno.test("freshId() has Piccolo's form and sorts after the latest ID", () => {
  const id = freshId(new Date("2026-11-22T10:34:26.392Z"), undefined);
  assertEquals(/^2026-11-22T10:34:26:392\d{3}$/.test(id), true);
  assertEquals(
    freshId(new Date("2026-01-01T00:00:00.000Z"), "2026-11-22T10:34:26:392882"),
    "2026-11-22T10:34:26:392883",
  );
  assertEquals(
    freshId(new Date("2026-01-01T00:00:00.000Z"), "2026-11-22T10:34:26:999999"),
    "2026-11-22T10:34:27:000000",
  );
});
