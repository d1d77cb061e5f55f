import type { MigrationContext } from "tide";

export const ID = "2026-01-14T10:00:00:000006";
export const DESCRIPTION = "A reporting view, with a hand-written backwards";

export async function forwards({ manager }: MigrationContext) {
  manager.addRaw("create view events.upcoming as select * from events.concert where starts_at > now()");
  return manager;
}

// Hand-written reversal: used instead of inverting forwards (whose raw step has no backwards).
export async function backwards({ manager }: MigrationContext) {
  manager.addRaw("drop view events.upcoming");
  return manager;
}
