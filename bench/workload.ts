/**
 * The benchmark workload (issue 7): N migrations, each creating a table, an index on it and a
 * column; rolling one back drops the index, the column and the table.
 *
 * @module
 */

import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The ID of migration `i` (1-based), in tide's format. */
export function migrationId(i: number): string {
  return `2026-01-01T00:00:00:${String(i).padStart(6, "0")}`;
}

/** Writes a project with N migrations, `source(i, id)` giving each file's text; returns its folder. */
async function writeProject(
  n: number,
  prefix: string,
  name: (i: number) => string,
  source: (i: number, id: string) => string,
): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), `${prefix}-${n}-`));
  const dir = join(root, "app", "migrations");
  await mkdir(dir, { recursive: true });
  await writeFile(join(root, "tide.json"), JSON.stringify({ apps: { app: { migrations: "app/migrations" } } }));
  for (let i = 1; i <= n; i++) {
    const id = migrationId(i);
    await writeFile(join(dir, `${id.replace(/[:-]/g, "_")}_${name(i)}.ts`), source(i, id));
  }
  return root;
}

/** Writes a project with N migrations; returns its folder. */
export function makeBenchProject(n: number): Promise<string> {
  return writeProject(n, "tide-bench", (i) => `t${i}`, (i, id) =>
    `import type { MigrationContext } from "tide";

export const ID = "${id}";
export const DESCRIPTION = "Table t${i}";

export async function forwards({ manager }: MigrationContext) {
  manager.addTable("t${i}", { id: "serial primary key", name: "text" });
  manager.addIndex("t${i}", ["name"], { name: "t${i}_name_idx" });
  manager.addColumn("t${i}", "extra", "integer");
  return manager;
}
`);
}

/** The SQL that reverses migrations `from` down to `to` (inclusive), as tide runs it. */
export function reversalSql(from: number, to: number, perMigrationTransaction: boolean): string[] {
  const out: string[] = [];
  for (let i = from; i >= to; i--) {
    const body = [
      `DROP INDEX "t${i}_name_idx"`,
      `ALTER TABLE "t${i}" DROP COLUMN "extra"`,
      `DROP TABLE "t${i}"`,
      `DELETE FROM "migration" WHERE app_name = 'app' AND name = '${migrationId(i)}'`,
    ];
    out.push(...(perMigrationTransaction ? ["BEGIN", ...body, "COMMIT"] : body));
  }
  return out;
}

/**
 * Writes a project with N migrations of /work/shared/bench's workload (`lib/ddl.mjs`), as its
 * tide adapter writes them: table `t_i` (serial key, `name text not null`, `created_at
 * timestamptz default now()`), index `t_i_name_idx`, column `extra_i int`.
 */
export function makeSharedWorkloadProject(n: number): Promise<string> {
  return writeProject(n, "tide-scale", (i) => `t_${i}`, (i, id) =>
    `import type { MigrationContext } from "tide";
export const ID = "${id}";
export const DESCRIPTION = "t_${i}";
export async function forwards({ manager }: MigrationContext) {
  manager.addTable("t_${i}", { id: "serial primary key", name: "text not null", created_at: "timestamptz default now()" });
  manager.addIndex("t_${i}", ["name"], { name: "t_${i}_name_idx" });
  manager.addColumn("t_${i}", "extra_${i}", "int");
  return manager;
}
`);
}
