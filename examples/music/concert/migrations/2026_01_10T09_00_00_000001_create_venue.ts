import type { MigrationContext } from "tide";

export const ID = "2026-01-10T09:00:00:000001";
export const DESCRIPTION = "Create venue table in the events schema";

export async function forwards({ manager }: MigrationContext) {
  manager.addRaw("create schema events", "drop schema events");
  manager.addTable("events.venue", {
    id: "serial primary key",
    name: "text not null",
    capacity: "integer check (capacity > 0)",
  });
  return manager;
}
