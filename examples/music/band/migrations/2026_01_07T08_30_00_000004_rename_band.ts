import type { MigrationContext } from "tide";

export const ID = "2026-01-07T08:30:00:000004";
export const DESCRIPTION = "Rename band to music_group and give it a genre";

// Piccolo cannot reverse this one (it reverses operations grouped by kind); tide reverses the
// recorded operations in reverse order, so the column is dropped before the table is renamed back.
export async function forwards({ manager }: MigrationContext) {
  manager.renameTable("band", "music_group");
  manager.addColumn("music_group", "genre", "text not null default 'rock'");
  return manager;
}
