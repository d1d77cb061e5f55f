/**
 * Migrations the [citus] tests share: a distributed schema, and a migration dropping most of it.
 *
 * @module
 */

import { idOf } from "../helpers/backends.ts";

/** Plans (reference), sessions and events (distributed, colocated), audit (colocated, stays), and more. */
export const SCHEMA = {
  id: idOf(1),
  description: "A distributed schema",
  body: `  manager.addRaw(\`
    create table plans (id int primary key, name text not null);
    select create_reference_table('plans');
    create table sessions (tenant_id int not null, id int not null, plan_id int references plans (id),
                           primary key (tenant_id, id));
    select create_distributed_table('sessions', 'tenant_id', shard_count := 8);
    create table events (tenant_id int not null, id bigserial, session_id int, payload text default 'e',
                         primary key (tenant_id, id),
                         foreign key (tenant_id, session_id) references sessions (tenant_id, id));
    comment on table events is 'what happened';
    create index events_session_idx on events (tenant_id, session_id);
    select create_distributed_table('events', 'tenant_id', colocate_with := 'sessions');
    create table audit (tenant_id int not null, at timestamptz default now());
    select create_distributed_table('audit', 'tenant_id', colocate_with := 'sessions');
    create table solo (k text primary key, v int check (v > 0));
    select create_distributed_table('solo', 'k', shard_count := 4, colocate_with := 'none');
    create table single (k text, v int);
    select create_distributed_table('single', null, colocate_with := 'none');
    create table loc (id int primary key);
    select citus_add_local_table_to_metadata('loc');
    insert into plans select g, 'plan ' || g from generate_series(1, 3) g;
    insert into sessions select g % 10, g, 1 + g % 3 from generate_series(1, 100) g;
    insert into events (tenant_id, session_id) select (g % 100 + 1) % 10, g % 100 + 1 from generate_series(1, 250) g;
    insert into solo select 'k' || g, g from generate_series(1, 40) g;
    insert into single select 'k' || g, g from generate_series(1, 7) g;
    insert into loc select generate_series(1, 5);
  \`, "drop table if exists events, sessions, plans, audit, solo, single, loc cascade");`,
};

/** Drops the reference table first (its inbound foreign key goes with it), then the rest. */
export const DROPS = {
  id: idOf(2),
  description: "Drop them",
  body: `  manager.dropTable("plans");
  manager.dropTable("events");
  manager.dropTable("sessions");
  manager.dropTable("solo");
  manager.dropTable("single");
  manager.dropTable("loc");`,
};

/**
 * Drops whose captures do not depend on each other (no drop removes a foreign key another drop
 * of the same migration would capture): a --preview captures everything before anything runs.
 */
export const INDEPENDENT_DROPS = {
  id: idOf(2),
  description: "Drop some",
  body: `  manager.addRaw("update sessions set plan_id = null", "select 1"); // plans' rows do not come back
  manager.dropTable("events");
  manager.dropTable("plans");
  manager.dropTable("solo");
  manager.dropTable("single");
  manager.dropTable("loc");`,
};
