import type { MigrationContext } from "tide";

export const ID = "2026-01-05T09:00:00:000001";
export const DESCRIPTION = "Create manager table";

export async function forwards({ manager }: MigrationContext) {
  manager.addTable("manager", { id: "serial primary key", name: "varchar(50) not null" });
  return manager;
}
