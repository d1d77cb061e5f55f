/**
 * Pure hot paths, no database: rendering and inverting 500 migrations' operations, and
 * planning a reversal from stored history rows.
 *
 * deno bench bench/render_bench.ts
 *
 * @module
 */

import type { HistoryRow } from "../src/engine/history.ts";
import { planFromHistory } from "../src/engine/plan.ts";
import { MigrationManager } from "../src/migration/manager.ts";
import { renderBackwards, renderForwards } from "../src/migration/render.ts";

const managers = Array.from({ length: 500 }, (_, i) => {
  const m = new MigrationManager();
  m.addTable(`t${i}`, { id: "serial primary key", name: "text" });
  m.addIndex(`t${i}`, ["name"], { name: `t${i}_name_idx` });
  m.addColumn(`t${i}`, "extra", "integer");
  return m;
});

const rows: HistoryRow[] = managers.map((m, i) => ({
  app: "app",
  id: `2026-01-01T00:00:00:${String(i).padStart(6, "0")}`,
  ranOn: "",
  description: null,
  checksum: "x",
  reversal: { captures: {}, statements: null, operations: m.operations },
}));

Deno.bench("render 500 migrations forwards", () => {
  for (const m of managers) m.operations.forEach((op, i) => renderForwards(op, i));
});

Deno.bench("render 500 migrations backwards", () => {
  for (const m of managers) m.operations.forEach((op, i) => renderBackwards(op, i, undefined));
});

Deno.bench("plan 500 reversals from history rows", () => {
  for (const row of rows) planFromHistory(row, undefined, "operations");
});
