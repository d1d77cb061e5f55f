import type { MigrationContext } from "tide";

export const ID = "2026-01-06T14:00:00:000003";
export const DESCRIPTION = "Index bands by popularity";

export async function forwards({ manager }: MigrationContext) {
  manager.addIndex("band", ["popularity"], { name: "band_popularity_idx" });
  return manager;
}
