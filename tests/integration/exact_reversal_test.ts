/**
 * Exact reversal, measured by oracles that are not tide: after drop → backwards, pg_dump
 * --schema-only (PostgreSQL 15) and a fingerprint from the server's own pg_get_*def functions
 * (PGlite = PostgreSQL 18 too) are unchanged; what cannot come back is named in notRestored.
 */

import { History } from "../../src/engine/history.ts";
import { planBackwardsMigration, planForwardsMigration } from "../../src/engine/plan.ts";
import { runPlan } from "../../src/engine/run.ts";
import type { MigrationManager } from "../../src/migration/manager.ts";
import type { NotRestored } from "../../src/migration/render.ts";
import { assert, assertEquals } from "../helpers/assert.ts";
import { eachDatabase, type TestDatabase } from "../helpers/databases.ts";
import { everyVersion } from "../helpers/matrix.ts";
import { fakeMigration } from "../helpers/fake_migrations.ts";
import { catalogFingerprint, type Fingerprint, pgDumpReads, pgDumpSchema } from "../helpers/oracle.ts";

const ROLES = ["tide_t_owner", "tide_t_reader"];

/** Roles are per cluster on a server: create them once, tolerate a concurrent test doing the same. */
const CREATE_ROLES = ROLES.map((r) =>
  `do $$ begin if not exists (select from pg_roles where rolname = '${r}') then create role ${r}; end if;
     exception when others then null; end $$`
);

/** A setup statement, or one with the server_version_num it needs. */
type Setup = string | readonly [string, number];

const EXCLUDE = ["public.migration"];

async function oracle(t: TestDatabase): Promise<{ dump: string[] | null; print: Fingerprint }> {
  const [row] = await t.db.query<{ v: string }>("select current_setting('server_version_num') as v");
  const dump = t.kind === "postgres" && pgDumpReads(Number(row?.v)) ? await pgDumpSchema(t.url, EXCLUDE) : null;
  return { dump, print: await catalogFingerprint(t.db, EXCLUDE) };
}

/**
 * Applies `record`, reverses it (from the file, then from the history row alone), and
 * checks both oracles against the state before. Returns the notRestored lines of the plan.
 */
async function exactRoundTrip(
  t: TestDatabase,
  setup: readonly Setup[],
  record: (m: MigrationManager) => void,
): Promise<NotRestored[]> {
  const history = new History("migration");
  await history.ensure(t.db);
  const [{ v }] = (await t.db.query<{ v: string }>("select current_setting('server_version_num') as v")) as [
    { v: string },
  ];
  const statements = setup.flatMap((s) => typeof s === "string" ? [s] : Number(v) >= s[1] ? [s[0]] : []);
  await t.db.execute([...CREATE_ROLES, ...statements]);
  const before = await oracle(t);
  const migration = fakeMigration("2026-01-01T00:00:00:000001", record);
  let notRestored: NotRestored[] = [];
  for (const withFile of [true, false]) {
    const forwards = await runPlan(t.db, history, {
      direction: "forwards",
      migrations: [await planForwardsMigration(migration)],
    });
    assertEquals(forwards.outcomes[0]?.error, undefined);
    const [row] = await history.list(t.db);
    const plan = await planBackwardsMigration(row!, withFile ? migration : undefined);
    assertEquals(plan.irreversible, []);
    notRestored = plan.operations.flatMap((o) => [...(o.rendered.notRestored ?? [])]);
    const backwards = await runPlan(t.db, history, { direction: "backwards", migrations: [plan] });
    assertEquals(backwards.outcomes[0]?.error, undefined, backwards.outcomes[0]?.sql.join(";\n"));
    const after = await oracle(t);
    assertEquals(after.print, before.print, withFile ? "fingerprint, from the file" : "fingerprint, from history");
    if (before.dump !== null) assertEquals(after.dump, before.dump, "pg_dump --schema-only");
  }
  return notRestored;
}

const RICH_TABLE: Setup[] = [
  "create function band_touch() returns trigger language plpgsql as $$ begin return new; end $$",
  `create table band (
     id int generated always as identity (start with 100 increment by 2) primary key,
     name text collate "C" not null,
     code char(3),
     score int default 0 check (score >= 0),
     doubled int generated always as (score * 2) stored,
     notes text,
     constraint band_code_key unique (code) deferrable initially deferred
   )`,
  "insert into band (name, code, score) values ('a', 'AAA', 1), ('', 'BBB', 2)",
  "alter table band add constraint band_id_uniq unique (id)",
  "alter table band add constraint band_name_check check (name <> '') not valid",
  "alter table band alter column notes set storage external",
  "alter table band alter column notes set statistics 300",
  ["alter table band alter column notes set compression pglz", 140000],
  "alter table band alter column name set (n_distinct = 100)",
  "alter table band set (fillfactor = 70, autovacuum_enabled = false, toast.autovacuum_enabled = false)",
  "create index band_lower on band (lower(name)) with (fillfactor = 80)",
  "alter index band_lower alter column 1 set statistics 50",
  ["create unique index band_code_nnd on band (code) nulls not distinct", 150000],
  "create unique index band_name_key on band (name)",
  "alter table band cluster on band_lower",
  "alter table band replica identity using index band_name_key",
  "alter table band owner to tide_t_owner",
  "grant select, insert on band to tide_t_reader",
  "grant update (notes), references (code) on band to tide_t_reader",
  "grant select on band to public",
  "revoke truncate on band from tide_t_owner",
  "alter table band enable row level security",
  "alter table band force row level security",
  "create policy band_read on band for select to tide_t_reader using (score > 0)",
  "create policy band_limit on band as restrictive for update to tide_t_reader, public using (true) with check (score < 1000)",
  "create trigger band_touch before update on band for each row execute function band_touch()",
  "create trigger band_off after insert on band for each statement execute function band_touch()",
  "alter table band disable trigger band_off",
  "comment on trigger band_touch on band is 'touch'",
  "create rule band_no_delete as on delete to band where old.score > 100 do instead nothing",
  "comment on rule band_no_delete on band is 'keep the big ones'",
  "create statistics band_stats (dependencies) on score, code from band",
  "alter statistics band_stats set statistics 200",
  "comment on statistics band_stats is 'score and code'",
  "create publication band_pub",
  "alter publication band_pub add table band",
  ["create publication band_pub2 for table band (id, name) where (score > 1)", 150000],
  ["alter table band add column total int generated always as (score + 1) virtual", 180000],
  ["alter table band add column must int constraint band_must_required not null default 1", 180000],
  ["alter table band add column later int", 180000],
  ["alter table band add constraint band_later_nn not null later not valid", 180000],
  "comment on table band is 'Bands'",
  "comment on column band.notes is 'Free text'",
  "comment on constraint band_name_check on band is 'named'",
  "comment on policy band_read on band is 'readers'",
  "comment on index band_lower is 'lower'",
  "create table fan (id int primary key, band_id int references band (id))",
  // Before 15 the only unique constraint on code is deferrable, which a foreign key cannot use.
  ["alter table fan add column band_code char(3) references band (code)", 150000],
];

everyVersion("dropTable() of a table with every object kind comes back exactly (pg_dump, pg_get_*def)", async (t) => {
  const notRestored = await exactRoundTrip(t, RICH_TABLE, (m) => m.dropTable("band"));
  assertEquals(notRestored, []);
});

everyVersion("dropTable() of an UNLOGGED table with a serial, an inheritance child and a rule", async (t) => {
  const notRestored = await exactRoundTrip(t, [
    "create unlogged table log (id serial primary key, at timestamptz default now(), msg text)",
    "create table base (id int not null, label text check (label <> ''))",
    "create table child (extra int, label text) inherits (base)",
    "comment on column child.extra is 'extra'",
    "grant usage on sequence log_id_seq to tide_t_reader",
  ], (m) => m.dropTable("log").dropTable("child"));
  assertEquals(notRestored, []);
});

const PARTITIONED: Setup[] = [
  `create table meas (id int not null, logdate date not null, v int, note text,
     primary key (id, logdate), check (v >= 0)) partition by range (logdate)`,
  "create index meas_v on meas (v)",
  "create table meas_2020 partition of meas for values from ('2020-01-01') to ('2021-01-01')",
  "create table meas_2021 partition of meas for values from ('2021-01-01') to ('2022-01-01') partition by list (id)",
  "create table meas_2021_a partition of meas_2021 for values in (1, 2)",
  "create table meas_def partition of meas default",
  "create index meas_2020_note on meas_2020 (note)",
  "alter table meas_2020 set (fillfactor = 60)",
  "comment on table meas_2021_a is 'leaf'",
  "grant select on meas_2020 to tide_t_reader",
  "create table reading (id int, logdate date, foreign key (id, logdate) references meas (id, logdate))",
  "insert into meas values (1, '2020-05-01', 1, 'x'), (2, '2021-05-01', 2, 'y'), (3, '2030-01-01', 3, 'z')",
];

everyVersion("dropTable() of a partitioned table re-creates its whole partition tree, attached", async (t) => {
  const notRestored = await exactRoundTrip(t, PARTITIONED, (m) => m.dropTable("meas"));
  assertEquals(notRestored, []);
});

everyVersion("dropTable() of one partition re-attaches it FOR VALUES, with its indexes", async (t) => {
  // Postgres refuses to drop a partition that a foreign key reaches through its parent.
  await exactRoundTrip(t, PARTITIONED.filter((s) => !String(s).includes("reading")), (m) => m.dropTable("meas_2020"));
});

eachDatabase(
  "dropColumn() restores grants, storage, statistics, extended statistics and partition indexes",
  async (t) => {
    const notRestored = await exactRoundTrip(t, [
      "create table band (id int primary key, name text, notes text)",
      "alter table band alter column notes set storage external",
      "alter table band alter column notes set statistics 300",
      "grant select (notes), update (notes) on band to tide_t_reader",
      "create statistics band_st on name, notes from band",
      "create index band_notes on band (notes)",
      "alter table band cluster on band_notes",
      ...PARTITIONED,
      "create index meas_2020_note_v on meas_2020 (note, v)",
      "create index meas_note on meas (note)",
    ], (m) => m.dropColumn("band", "notes").dropColumn("meas", "note"));
    assertEquals(notRestored, []);
  },
);

eachDatabase("dropColumn() of a column that is not last names its position as not restored", async (t) => {
  const history = new History("migration");
  await history.ensure(t.db);
  await t.db.execute(["create table band (id int, name text, score int)"]);
  const migration = fakeMigration("2026-01-01T00:00:00:000001", (m) => m.dropColumn("band", "name"));
  await runPlan(t.db, history, { direction: "forwards", migrations: [await planForwardsMigration(migration)] });
  const [row] = await history.list(t.db);
  const plan = await planBackwardsMigration(row!, undefined);
  const lines = plan.operations.flatMap((o) => [...(o.rendered.notRestored ?? [])]);
  assertEquals(lines, [{
    object: "column public.band.name",
    what: "position: comes back as the table's last column (it was column 2)",
  }]);
  assertEquals(plan.notRestored, lines);
});

eachDatabase(
  "dropIndex() restores tablespace-free options, CLUSTER ON, replica identity, statistics and partition indexes",
  async (t) => {
    await exactRoundTrip(t, [
      "create table band (id int primary key, name text not null)",
      "create unique index band_name_key on band (name) with (fillfactor = 50)",
      "alter table band replica identity using index band_name_key",
      "create index band_lower on band (lower(name))",
      "alter index band_lower alter column 1 set statistics 70",
      "alter table band cluster on band_lower",
      "comment on index band_lower is 'lower'",
      ...PARTITIONED,
      "create index meas_note on meas (note)",
    ], (m) => m.dropIndex("band_name_key").dropIndex("band_lower").dropIndex("meas_note"));
  },
);

everyVersion("alterColumn() puts back the CHECK constraints and indexes Postgres re-parses", async (t) => {
  const setup = [
    "create table band (id int primary key, code varchar(10) check (code like 'A%'), n numeric(6,2) check (n > 0.5))",
    "create index band_code_lower on band (lower(code)) where code <> ''",
    "comment on constraint band_code_check on band is 'A codes'",
  ];
  await exactRoundTrip(t, setup, (m) => {
    m.alterColumn("band", "code", { type: "text" });
    m.alterColumn("band", "n", { type: "float8" });
  });
});

eachDatabase("alterColumn() on citext restores the check as it was, not with ::text casts", async (t) => {
  await exactRoundTrip(t, [
    "create extension if not exists citext",
    "create table member (id int primary key, email citext check (email <> '' and email = lower(email::text)::citext))",
  ], (m) => m.alterColumn("member", "email", { type: "text" }));
}, { postgresOnly: true });

eachDatabase(
  "a dropped partitioned table: the plan names its partitions, the preflight counts their rows",
  async (t) => {
    const history = new History("migration");
    await history.ensure(t.db);
    await t.db.execute([...CREATE_ROLES, ...PARTITIONED as string[]]);
    const { measureDataLoss } = await import("../../src/engine/data_loss.ts");
    const plan = {
      direction: "forwards" as const,
      migrations: [
        await planForwardsMigration(
          fakeMigration("2026-01-01T00:00:00:000001", (m) => m.dropTable("meas")),
        ),
      ],
    };
    const findings = await measureDataLoss(t.db, plan);
    const total = findings.reduce((n, f) => n + f.rows, 0);
    assertEquals(total, 3, JSON.stringify(findings));
    assert(findings.some((f) => /meas_2021_a/.test(f.object)), JSON.stringify(findings));
  },
);

eachDatabase(
  "dropColumn names the inherited constraint PostgreSQL leaves in a child that keeps the column",
  async (t) => {
    const history = new History("migration");
    await history.ensure(t.db);
    await t.db.execute([
      "create table vehicle (id int, wheels int, constraint wheels_pos check (wheels > 0))",
      "create table truck (cargo int) inherits (vehicle)",
      "create table bus (wheels int, seats int) inherits (vehicle)",
    ]);
    const migration = fakeMigration("2026-01-01T00:00:00:000001", (m) => m.dropColumn("vehicle", "wheels"));
    const forwards = await runPlan(t.db, history, {
      direction: "forwards",
      migrations: [await planForwardsMigration(migration)],
    });
    assertEquals(forwards.outcomes[0]?.error, undefined);
    // The server's own catalog: the child keeps an inherited constraint it cannot drop.
    const left = await t.db.query<{ n: number }>(
      "select coninhcount as n from pg_constraint where conrelid = 'bus'::regclass and conname = 'wheels_pos'",
    );
    assertEquals(left.map((r) => Number(r.n)), [1]);
    const [row] = await history.list(t.db);
    const plan = await planBackwardsMigration(row!, migration);
    const named = plan.operations.flatMap((o) => [...(o.rendered.notRestored ?? [])]);
    assert(
      named.some((n) => n.object === "constraint bus.wheels_pos" && /coninhcount 2/.test(n.what)),
      JSON.stringify(named),
    );
    assert(!named.some((n) => n.object.includes("truck")), "truck's constraint went with its column");
  },
);
