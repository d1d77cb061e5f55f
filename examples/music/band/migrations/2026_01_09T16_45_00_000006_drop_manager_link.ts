import type { MigrationContext } from "tide";

export const ID = "2026-01-09T16:45:00:000006";
export const DESCRIPTION = "Drop the manager link and its table";

// Backwards re-creates both exactly as they were (columns, constraints, the foreign key);
// the rows are not restored, and the plan says so.
export async function forwards({ manager }: MigrationContext) {
  manager.dropColumn("music_group", "manager_id");
  manager.dropTable("manager");
  return manager;
}
