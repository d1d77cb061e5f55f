/**
 * The oracle: what a schema is, measured by something that is not tide. Two instruments:
 *
 * - {@linkcode pgDumpSchema}: Debian's `pg_dump` 15 `--schema-only` (it reads servers up to
 *   15), normalised only as far as a round trip may honestly differ: comments, SET lines and
 *   blank lines go, and the column lines inside each CREATE TABLE are sorted, because a
 *   re-added column comes back last (tide names that in its plan). Statements are compared as
 *   a multiset (pg_dump's order among equal-priority objects follows OIDs).
 * - {@linkcode catalogFingerprint}: one entry per object, built only from the server's own
 *   functions and catalogs (`pg_get_constraintdef`, `pg_get_indexdef`, `pg_get_triggerdef`,
 *   `pg_get_ruledef`, `pg_get_expr`, `pg_get_statisticsobjdef`, `pg_get_partkeydef`,
 *   `format_type`, pg_policy, ACLs, owners, reloptions, persistence, replica identity,
 *   clustering, statistics targets, storage, compression, publications, inheritance,
 *   comments, sequences), version-aware, for every server incl. 16–18 and PGlite.
 *
 * Deliberately independent of tide: nothing here imports src/migration or a catalog module of
 * tide's, so a capture bug cannot hide in the measuring stick.
 *
 * @module
 */

import type { Queryable } from "../../src/db/database.ts";
import { splitSql } from "./fixtures.ts";

// ---------------------------------------------------------------------------------------------
// pg_dump

/** The pg_dump binary used: Debian's PostgreSQL 15 client. */
export const PG_DUMP = ["/usr/lib/postgresql/15/bin/pg_dump", "/usr/bin/pg_dump"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

/** Whether pg_dump can read a server of this `server_version_num` (pg_dump 15 reads up to 15). */
export function pgDumpReads(versionNum: number): boolean {
  return PG_DUMP !== undefined && versionNum > 0 && versionNum < 160000;
}

/**
 * `pg_dump --schema-only` of the database at `url`, normalised, as a sorted list of
 * statements (each on one line). `exclude` names tables left out (e.g. `public.migration`).
 */
export async function pgDumpSchema(url: string, exclude: readonly string[] = []): Promise<string[]> {
  if (!PG_DUMP) throw new Error("pg_dump is not installed (Debian's postgresql-client-15)");
  const out = await new Deno.Command(PG_DUMP, {
    args: ["--schema-only", "--no-sync", ...exclude.map((t) => `--exclude-table=${t}`), `--dbname=${url}`],
    stdout: "piped",
    stderr: "piped",
    env: { PGCONNECT_TIMEOUT: "10" },
  }).output();
  if (!out.success) throw new Error(`pg_dump failed: ${new TextDecoder().decode(out.stderr)}`);
  return normaliseDump(new TextDecoder().decode(out.stdout));
}

/** The normalisation of {@linkcode pgDumpSchema}, exported for unit tests. */
export function normaliseDump(dump: string): string[] {
  const kept = dump.split("\n").filter((line) =>
    !line.startsWith("--") && !/^SET /.test(line) && !line.startsWith("SELECT pg_catalog.set_config(") &&
    // pg_dump 15.14+ fences its output with a random key per run.
    !line.startsWith("\\restrict") && !line.startsWith("\\unrestrict") && line.trim() !== ""
  );
  return splitSql(kept.join("\n")).map(sortTableColumns).map((s) => s.replace(/\s+/g, " ").trim()).sort();
}

/** Inside `CREATE [UNLOGGED] TABLE … (`…`)`, sorts the column lines (trailing commas removed). */
function sortTableColumns(statement: string): string {
  if (!/^CREATE (UNLOGGED |FOREIGN )?TABLE /.test(statement)) return statement;
  const lines = statement.split("\n");
  const open = lines.findIndex((l) => l.endsWith("("));
  const close = lines.findIndex((l, i) => i > open && /^\)/.test(l));
  if (open < 0 || close < 0) return statement;
  const body = lines.slice(open + 1, close).map((l) => l.replace(/,$/, "")).sort();
  return [...lines.slice(0, open + 1), ...body, ...lines.slice(close)].join("\n");
}

/** Statements only before (`-`) and only after (`+`): empty when the dumps are equal. */
export function diffDumps(before: readonly string[], after: readonly string[]): string[] {
  const count = new Map<string, number>();
  for (const s of before) count.set(s, (count.get(s) ?? 0) + 1);
  for (const s of after) count.set(s, (count.get(s) ?? 0) - 1);
  const lines: string[] = [];
  for (const [s, n] of [...count].sort(([a], [b]) => a.localeCompare(b))) {
    for (let i = 0; i < Math.abs(n); i++) lines.push(`${n > 0 ? "-" : "+"} ${s}`);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Catalog fingerprint

/** object key (e.g. `table rich.customer`) → attribute → value. */
export type Fingerprint = Record<string, Record<string, string>>;

const USER = "n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema'";

/** Sorted, comma-joined elements of an array expression (ACLs, options): order is not meaning. */
const sorted = (array: string) => `(select string_agg(x::text, ',' order by x::text) from unnest(${array}) x)`;

/** A role name, `public` for 0 (policies). */
const role = (oid: string) => `case when ${oid} = 0 then 'public' else pg_get_userbyid(${oid}) end`;

function queries(v: number): string[] {
  const has = (min: number, expr: string) => (v >= min ? expr : "null");
  const relKind = `case c.relkind when 'r' then 'table' when 'p' then 'table' when 'v' then 'view'
    when 'm' then 'matview' when 'f' then 'foreign table' when 'S' then 'sequence' when 'i' then 'index'
    when 'I' then 'index' when 'c' then 'type' else c.relkind::text end`;
  return [
    // Schemas.
    `select format('schema %I', n.nspname) as key, jsonb_build_object(
       'owner', pg_get_userbyid(n.nspowner), 'acl', ${sorted("n.nspacl")},
       'comment', obj_description(n.oid, 'pg_namespace')) as attrs
       from pg_namespace n where ${USER}`,
    // Relations: tables, partitions, views, sequences, indexes.
    `select format('%s %I.%I', ${relKind}, n.nspname, c.relname) as key, jsonb_build_object(
       'relkind', c.relkind::text,
       'owner', pg_get_userbyid(c.relowner),
       'persistence', c.relpersistence::text,
       'reloptions', ${sorted("c.reloptions")},
       'toast.reloptions', ${sorted("tc.reloptions")},
       'acl', ${sorted("c.relacl")},
       'replica identity', case when c.relkind in ('r', 'p') then c.relreplident::text end,
       'row security', c.relrowsecurity,
       'force row security', c.relforcerowsecurity,
       'partition bound', pg_get_expr(c.relpartbound, c.oid),
       'partition key', case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end,
       'parents', (select string_agg(format('%I.%I', pn.nspname, pc.relname), ',' order by i.inhseqno)
                     from pg_inherits i join pg_class pc on pc.oid = i.inhparent
                     join pg_namespace pn on pn.oid = pc.relnamespace where i.inhrelid = c.oid),
       'access method', am.amname,
       'tablespace', ts.spcname,
       'view', case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid) end,
       'index', case when c.relkind in ('i', 'I') then pg_get_indexdef(c.oid) end,
       'clustered', x.indisclustered,
       'replica identity index', x.indisreplident,
       'valid', x.indisvalid,
       'comment', obj_description(c.oid, 'pg_class')) as attrs
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       left join pg_class tc on tc.oid = c.reltoastrelid
       left join pg_am am on am.oid = c.relam
       left join pg_tablespace ts on ts.oid = c.reltablespace
       left join pg_index x on x.indexrelid = c.oid
      where ${USER} and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S', 'i', 'I')`,
    // Columns (not their position: a re-added column comes back last, and tide says so).
    `select format('column %I.%I.%I', n.nspname, c.relname, a.attname) as key, jsonb_build_object(
       'type', format_type(a.atttypid, a.atttypmod),
       'not null', a.attnotnull,
       'default', pg_get_expr(d.adbin, d.adrelid),
       'collation', case when a.attcollation <> t.typcollation then
                      (select format('%I.%I', cn.nspname, co.collname) from pg_collation co
                         join pg_namespace cn on cn.oid = co.collnamespace where co.oid = a.attcollation) end,
       'identity', nullif(a.attidentity::text, ''),
       'generated', nullif(a.attgenerated::text, ''),
       'statistics target', nullif(a.attstattarget::int, -1),
       'storage', case when a.attstorage <> t.typstorage then a.attstorage::text end,
       'compression', ${has(140000, "nullif(a.attcompression::text, '')")},
       'acl', ${sorted("a.attacl")},
       -- This machine's PostgreSQL 15 service adds a per-column pg_attver=N option of its own
       -- (pg_dump does not show it): not a user's setting, so not part of the fingerprint.
       'options', (select string_agg(x::text, ',' order by x::text) from unnest(a.attoptions) x
                    where x not like 'pg\\_attver=%'),
       'local', a.attislocal,
       'inherited count', a.attinhcount,
       'comment', col_description(c.oid, a.attnum)) as attrs
       from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
       join pg_type t on t.oid = a.atttypid
       left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where ${USER} and c.relkind in ('r', 'p', 'v', 'm', 'f') and a.attnum > 0 and not a.attisdropped`,
    // Constraints of tables (PG 18: NOT NULL too, contype 'n') and of domains.
    `select format('constraint %I.%I.%I', n.nspname, coalesce(c.relname, ty.typname), k.conname) as key,
       jsonb_build_object(
       'type', k.contype::text,
       'definition', pg_get_constraintdef(k.oid),
       'validated', k.convalidated,
       'deferrable', k.condeferrable,
       'deferred', k.condeferred,
       'local', k.conislocal,
       'inherited count', k.coninhcount,
       'no inherit', k.connoinherit,
       'parent', (select p.conname from pg_constraint p where p.oid = k.conparentid),
       'index', (select ic.relname from pg_class ic where ic.oid = k.conindid),
       'comment', obj_description(k.oid, 'pg_constraint')) as attrs
       from pg_constraint k join pg_namespace n on n.oid = k.connamespace
       left join pg_class c on c.oid = k.conrelid left join pg_type ty on ty.oid = k.contypid
      where ${USER}`,
    // Triggers (the user's, not those behind foreign keys).
    `select format('trigger %I.%I.%I', n.nspname, c.relname, g.tgname) as key, jsonb_build_object(
       'definition', pg_get_triggerdef(g.oid),
       'enabled', g.tgenabled::text,
       'parent', ${has(130000, "(select p.tgname from pg_trigger p where p.oid = g.tgparentid)")},
       'comment', obj_description(g.oid, 'pg_trigger')) as attrs
       from pg_trigger g join pg_class c on c.oid = g.tgrelid join pg_namespace n on n.oid = c.relnamespace
      where ${USER} and not g.tgisinternal`,
    // Rules (not the _RETURN rule of a view).
    `select format('rule %I.%I.%I', n.nspname, c.relname, r.rulename) as key, jsonb_build_object(
       'definition', pg_get_ruledef(r.oid),
       'enabled', r.ev_enabled::text,
       'comment', obj_description(r.oid, 'pg_rewrite')) as attrs
       from pg_rewrite r join pg_class c on c.oid = r.ev_class join pg_namespace n on n.oid = c.relnamespace
      where ${USER} and r.rulename <> '_RETURN'`,
    // Row level security policies.
    `select format('policy %I.%I.%I', n.nspname, c.relname, p.polname) as key, jsonb_build_object(
       'command', p.polcmd::text,
       'permissive', p.polpermissive,
       'roles', (select string_agg(${role("r")}, ',' order by ${role("r")}) from unnest(p.polroles) r),
       'using', pg_get_expr(p.polqual, p.polrelid),
       'with check', pg_get_expr(p.polwithcheck, p.polrelid),
       'comment', obj_description(p.oid, 'pg_policy')) as attrs
       from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
      where ${USER}`,
    // Extended statistics.
    `select format('statistics %I.%I', n.nspname, s.stxname) as key, jsonb_build_object(
       'definition', pg_get_statisticsobjdef(s.oid),
       'target', ${has(130000, "nullif(s.stxstattarget::int, -1)")},
       'owner', pg_get_userbyid(s.stxowner),
       'comment', obj_description(s.oid, 'pg_statistic_ext')) as attrs
       from pg_statistic_ext s join pg_namespace n on n.oid = s.stxnamespace where ${USER}`,
    // Sequences' options and owning column (identity or OWNED BY).
    `select format('sequence %I.%I', n.nspname, c.relname) as key, jsonb_build_object(
       'type', format_type(q.seqtypid, null),
       'start', q.seqstart::text, 'increment', q.seqincrement::text, 'min', q.seqmin::text,
       'max', q.seqmax::text, 'cache', q.seqcache::text, 'cycle', q.seqcycle,
       'owned by', (select format('%I.%I.%I (%s)', tn.nspname, tc.relname, ta.attname, dp.deptype)
                      from pg_depend dp join pg_class tc on tc.oid = dp.refobjid
                      join pg_namespace tn on tn.oid = tc.relnamespace
                      join pg_attribute ta on ta.attrelid = dp.refobjid and ta.attnum = dp.refobjsubid
                     where dp.classid = 'pg_class'::regclass and dp.objid = c.oid
                       and dp.refclassid = 'pg_class'::regclass and dp.deptype in ('a', 'i'))) as attrs
       from pg_sequence q join pg_class c on c.oid = q.seqrelid join pg_namespace n on n.oid = c.relnamespace
      where ${USER}`,
    // Publications and their members (PG 15: column lists, row filters, schemas).
    `select format('publication %I', p.pubname) as key, jsonb_build_object(
       'owner', pg_get_userbyid(p.pubowner), 'all tables', p.puballtables, 'insert', p.pubinsert,
       'update', p.pubupdate, 'delete', p.pubdelete, 'truncate', p.pubtruncate,
       'via root', p.pubviaroot) as attrs
       from pg_publication p`,
    `select format('publication %I member %I.%I', p.pubname, n.nspname, c.relname) as key, jsonb_build_object(
       'columns', ${
      has(
        150000,
        `(select string_agg(a.attname::text, ',' order by a.attname) from unnest(pr.prattrs) k
            join pg_attribute a on a.attrelid = pr.prrelid and a.attnum = k)`,
      )
    },
       'row filter', ${has(150000, "pg_get_expr(pr.prqual, pr.prrelid)")}) as attrs
       from pg_publication_rel pr join pg_publication p on p.oid = pr.prpubid
       join pg_class c on c.oid = pr.prrelid join pg_namespace n on n.oid = c.relnamespace`,
  ];
}

/**
 * The fingerprint of every user schema of the database (and its publications), leaving out
 * the relations named in `exclude` (`schema.name`) and whatever belongs to them.
 */
export async function catalogFingerprint(db: Queryable, exclude: readonly string[] = []): Promise<Fingerprint> {
  const [row] = await db.query<{ v: string }>("select current_setting('server_version_num') as v");
  const v = Number(row!.v);
  const print: Fingerprint = {};
  for (const sql of queries(v)) {
    const rows = await db.query<{ key: string; attrs: string }>(
      `select key, jsonb_strip_nulls(attrs)::text as attrs from (${sql}) q`,
    );
    for (const r of rows) {
      const attrs = JSON.parse(r.attrs) as Record<string, unknown>;
      const entry: Record<string, string> = {};
      for (const [k, value] of Object.entries(attrs).sort(([a], [b]) => a.localeCompare(b))) entry[k] = String(value);
      // Sequences appear twice (as relations and with their options): one entry, both halves.
      print[r.key] = { ...print[r.key], ...entry };
    }
  }
  return dropExcluded(print, exclude);
}

/** Removes excluded relations and the objects named after them (columns, constraints, indexes, sequences). */
function dropExcluded(print: Fingerprint, exclude: readonly string[]): Fingerprint {
  if (exclude.length === 0) return print;
  const out: Fingerprint = {};
  const belongs = (key: string, attrs: Record<string, string>) =>
    exclude.some((t) => {
      const [, rest = ""] = /^[a-z ]+? ([^ ].*)$/.exec(key) ?? [];
      if (rest === t || rest.startsWith(`${t}.`)) return true;
      // Indexes and owned sequences name their table in their definition / owner.
      const index = attrs.index ?? "";
      if (index.includes(` ON ${t} `) || index.includes(` ON ONLY ${t} `)) return true;
      return (attrs["owned by"] ?? "").startsWith(`${t}.`);
    });
  for (const [key, attrs] of Object.entries(print)) if (!belongs(key, attrs)) out[key] = attrs;
  return out;
}

/**
 * What differs between two fingerprints, readably: `- key (attrs)` gone, `+ key (attrs)` new,
 * `~ key: attribute: before → after` changed. Empty when equal.
 */
export function diffFingerprints(before: Fingerprint, after: Fingerprint): string[] {
  const lines: string[] = [];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const show = (attrs: Record<string, string>) =>
    Object.entries(attrs).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ");
  for (const key of keys) {
    const a = before[key];
    const b = after[key];
    if (a && !b) lines.push(`- ${key} (${show(a)})`);
    else if (!a && b) lines.push(`+ ${key} (${show(b)})`);
    else if (a && b) {
      for (const attr of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
        if (a[attr] !== b[attr]) {
          lines.push(`~ ${key}: ${attr}: ${JSON.stringify(a[attr] ?? null)} → ${JSON.stringify(b[attr] ?? null)}`);
        }
      }
    }
  }
  return lines;
}
