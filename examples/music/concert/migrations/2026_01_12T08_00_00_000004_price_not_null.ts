import type { MigrationContext } from "tide";

export const ID = "2026-01-12T08:00:00:000004";
export const DESCRIPTION = "Prices are required, 0 by default";

export async function forwards({ manager }: MigrationContext) {
  manager.alterColumn("events.concert", "price", { nullable: false, default: "0" });
  return manager;
}
