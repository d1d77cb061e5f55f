import type { MigrationContext } from "tide";

export const ID = "2026-01-11T12:00:00:000003";
export const DESCRIPTION = "Ticket prices, seeded by a function step";

export async function forwards({ manager }: MigrationContext) {
  manager.addColumn("events.concert", "price", "numeric(8,2)");
  manager.addRaw(
    async (db) => {
      await db.query("insert into events.venue (name, capacity) values ($1, $2)", ["Town Hall", 500]);
    },
    async (db) => {
      await db.query("delete from events.venue where name = $1", ["Town Hall"]);
    },
  );
  return manager;
}
