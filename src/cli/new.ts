/**
 * `tide new <app> [--desc TEXT]`: writes a migration module from the template.
 *
 * @module
 */

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadConfig } from "../config.ts";
import { PlanError } from "../errors.ts";
import { MigrationSource } from "../loader/load.ts";
import { type GlobalOptions, printJson } from "./common.ts";
import type { Io } from "./io.ts";

/** Runs `new`; returns the exit code. */
export async function newMigration(io: Io, app: string, options: GlobalOptions & { desc?: string }): Promise<number> {
  const config = await loadConfig(options.config ?? "tide.json", io.cwd());
  const found = config.apps.find((a) => a.name === app);
  if (!found) {
    throw new PlanError(
      `Unknown app "${app}": ${config.path} lists ${config.apps.map((a) => `"${a.name}"`).join(", ")}`,
    );
  }
  const existing = await new MigrationSource(found).ids();
  const id = freshId(new Date(), existing.at(-1));
  const description = options.desc ?? "";
  const slug = description.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 50) ||
    "migration";
  const path = join(found.migrationsDir, `${id.replace(/[:-]/g, "_")}_${slug}.ts`);
  await writeFile(path, template(id, description), { flag: "wx" });
  if (options.json) printJson(io, { app, id, path });
  else io.out(`${path}\n`);
  return 0;
}

/**
 * A new ID in Piccolo's `YYYY-MM-DDTHH:MM:SS:ffffff` form (UTC), later than `after` so that
 * two migrations made in the same microsecond still sort in the order they were made.
 */
export function freshId(now: Date, after: string | undefined): string {
  const micro = now.getUTCMilliseconds() * 1000 + Math.floor(Math.random() * 1000);
  let id = format(now, micro);
  if (after !== undefined && id <= after && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d:\d{6}$/.test(after)) {
    const t = new Date(`${after.slice(0, 19)}Z`);
    const next = Number(after.slice(20)) + 1;
    id = next >= 1_000_000 ? format(new Date(t.getTime() + 1000), 0) : format(t, next);
  }
  return id;
}

function format(d: Date, micro: number): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${p(d.getUTCHours())}:${
    p(d.getUTCMinutes())
  }:${p(d.getUTCSeconds())}:${p(micro, 6)}`;
}

function template(id: string, description: string): string {
  return `import type { MigrationContext } from "tide";

export const ID = ${JSON.stringify(id)};
export const DESCRIPTION = ${JSON.stringify(description)};

export async function forwards({ manager }: MigrationContext) {
  // Record operations; each one is reversed exactly by "tide backwards". For example:
  // manager.addTable("band", { id: "serial primary key", name: "varchar(100) not null" });
  // manager.addRaw("insert into band (name) values ('Pythonistas')",
  //                "delete from band where name = 'Pythonistas'");
  return manager;
}
`;
}
