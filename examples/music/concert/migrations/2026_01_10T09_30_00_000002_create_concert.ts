import type { MigrationContext } from "tide";

export const ID = "2026-01-10T09:30:00:000002";
export const DESCRIPTION = "Create concert table";

export async function forwards({ manager }: MigrationContext) {
  manager.addTable("events.concert", {
    id: "serial primary key",
    band_id: "integer not null references music_group(id)",
    venue_id: "integer not null references events.venue(id)",
    starts_at: "timestamptz not null",
  });
  manager.addIndex("events.concert", ["band_id", "starts_at"], { unique: true });
  return manager;
}
