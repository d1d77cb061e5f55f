import type { MigrationContext } from "tide";

export const ID = "2026-01-08T10:00:00:000005";
export const DESCRIPTION = "Popularity becomes a bigint, default 10";

export async function forwards({ manager }: MigrationContext) {
  manager.alterColumn("music_group", "popularity", { type: "bigint", default: "10" });
  manager.renameColumn("music_group", "genre", "style");
  return manager;
}
