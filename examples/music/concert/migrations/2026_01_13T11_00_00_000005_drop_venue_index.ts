import type { MigrationContext } from "tide";

export const ID = "2026-01-13T11:00:00:000005";
export const DESCRIPTION = "Replace the concert index by one on venue";

export async function forwards({ manager }: MigrationContext) {
  manager.dropIndex("events.concert_band_id_starts_at_idx");
  manager.addIndex("events.concert", ["venue_id"]);
  return manager;
}
