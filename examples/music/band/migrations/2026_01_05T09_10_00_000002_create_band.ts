import type { MigrationContext } from "tide";

export const ID = "2026-01-05T09:10:00:000002";
export const DESCRIPTION = "Create band table";

export async function forwards({ manager }: MigrationContext) {
  manager.addTable("band", {
    id: "serial primary key",
    name: "varchar(100) not null unique",
    manager_id: "integer references manager(id)",
  });
  manager.addColumn("band", "popularity", "integer not null default 0 check (popularity >= 0)");
  manager.addRaw(
    "insert into band (name, popularity) values ('Pythonistas', 1000), ('Rustaceans', 800)",
    "delete from band where name in ('Pythonistas', 'Rustaceans')",
  );
  return manager;
}
