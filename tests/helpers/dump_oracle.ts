/**
 * Oracles that are not tide: `pg_dump --schema-only` (Debian's pg_dump 15, for servers up to
 * 15) and a fingerprint built from the server's own `pg_get_*def` functions and catalogs (any
 * version, PGlite included). Neither reads through tide's capture code.
 *
 * @module
 */

import type { Queryable } from "../../src/db/database.ts";

const PG_DUMP = "/usr/bin/pg_dump";

/** Whether pg_dump can be used against this server version. */
export async function canDump(db: Queryable): Promise<boolean> {
  const [row] = await db.query<{ v: string }>("select current_setting('server_version_num') as v");
  if (Number(row?.v) >= 160000) return false;
  try {
    return (await Deno.stat(PG_DUMP)).isFile;
  } catch {
    return false;
  }
}

/** `pg_dump --schema-only` of the database, without its comment and SET lines. */
export async function dumpSchema(url: string, exclude: readonly string[] = ["public.migration"]): Promise<string> {
  const args = ["--schema-only", "--no-sync", ...exclude.flatMap((t) => ["--exclude-table", t]), url];
  const out = await new Deno.Command(PG_DUMP, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`pg_dump failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout)
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("--") && !l.startsWith("SET ") && !l.includes("set_config"))
    // pg_dump 15.14+ brackets the script with a random \\restrict key.
    .filter((l) => !/^\\(un)?restrict /.test(l))
    // Server-set attribute options some builds add (e.g. pg_attver) change with every ALTER.
    .map((l) => l.replace(/pg_attver=\d+,?\s*/g, ""))
    .filter((l) => !/ALTER COLUMN .* SET \(\);$/.test(l))
    .join("\n");
}

/**
 * One line per object attribute, from the server's own functions: tables, columns (by name),
 * constraints, indexes, triggers, policies, rules, extended statistics, publications,
 * sequences, with owners, grants and comments.
 */
export async function fingerprint(db: Queryable, exclude: readonly string[] = ["public.migration"]): Promise<string[]> {
  const [{ v }] = await db.query<{ v: string }>("select current_setting('server_version_num') as v") as [{ v: string }];
  const version = Number(v);
  const compression = version >= 140000 ? "a.attcompression::text" : "''";
  const pub = version >= 150000 ? "coalesce(attnames::text, '') || ' ' || coalesce(rowfilter, '')" : "''";
  const rows = await db.query<{ line: string }>(
    `with rel as (
       select format('%I.%I', n.nspname, c.relname) as name, c.* from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
        where n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema'
          and format('%I.%I', n.nspname, c.relname) <> all($1::text[]))
     select 'table ' || name || ' kind=' || relkind::text || ' persistence=' || relpersistence::text || ' owner=' || pg_get_userbyid(relowner)
       || ' acl=' || coalesce(relacl::text, '') || ' options=' || coalesce(reloptions::text, '')
       || ' toast=' || coalesce((select reloptions::text from pg_class t where t.oid = rel.reltoastrelid), '')
       || ' rls=' || relrowsecurity || '/' || relforcerowsecurity || ' replident=' || relreplident::text
       || ' space=' || reltablespace || ' am=' || coalesce((select amname from pg_am where oid = relam), '')
       || ' partkey=' || coalesce(pg_get_partkeydef(oid), '') || ' bound=' || coalesce(pg_get_expr(relpartbound, oid), '')
       || ' parents=' || coalesce((select string_agg(inhparent::regclass::text, ',' order by inhseqno) from pg_inherits where inhrelid = rel.oid), '')
       || ' comment=' || coalesce(obj_description(oid, 'pg_class'), '') as line
       from rel where relkind in ('r', 'p')
     union all
     select 'column ' || r.name || '.' || quote_ident(a.attname) || ' type=' || format_type(a.atttypid, a.atttypmod)
       || ' coll=' || a.attcollation::regcollation::text || ' notnull=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
       || ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text || ' storage=' || a.attstorage::text
       || ' compression=' || ${compression} || ' stats=' || coalesce(a.attstattarget::text, '-1')
       || ' options=' || coalesce((select string_agg(o, ',') from unnest(a.attoptions) o where o not like 'pg\\_attver%'), '')
       || ' acl=' || coalesce(a.attacl::text, '') || ' local=' || a.attislocal || ' comment=' || coalesce(col_description(r.oid, a.attnum), '')
       from rel r join pg_attribute a on a.attrelid = r.oid left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where r.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
     union all
     select 'constraint ' || r.name || '.' || quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid)
       || ' type=' || k.contype::text || ' valid=' || k.convalidated || ' deferrable=' || k.condeferrable || '/' || k.condeferred
       || ' comment=' || coalesce(obj_description(k.oid, 'pg_constraint'), '')
       from rel r join pg_constraint k on k.conrelid = r.oid
     union all
     select 'index ' || r.name || ' ' || pg_get_indexdef(r.oid) || ' clustered=' || i.indisclustered
       || ' replident=' || i.indisreplident || ' space=' || r.reltablespace
       || ' parent=' || coalesce((select inhparent::regclass::text from pg_inherits where inhrelid = r.oid), '')
       || ' stats=' || coalesce((select string_agg(attnum || ':' || attstattarget, ',') from pg_attribute where attrelid = r.oid and attstattarget >= 0), '')
       || ' comment=' || coalesce(obj_description(r.oid, 'pg_class'), '')
       from rel r join pg_index i on i.indexrelid = r.oid
     union all
     select 'trigger ' || r.name || ' ' || pg_get_triggerdef(g.oid) || ' enabled=' || g.tgenabled::text
       || ' comment=' || coalesce(obj_description(g.oid, 'pg_trigger'), '')
       from rel r join pg_trigger g on g.tgrelid = r.oid where not g.tgisinternal
     union all
     select 'policy ' || schemaname || '.' || tablename || '.' || policyname || ' ' || permissive || ' ' || roles::text || ' ' || cmd
       || ' using=' || coalesce(qual, '') || ' check=' || coalesce(with_check, '')
       from pg_policies where format('%I.%I', schemaname, tablename) <> all($1::text[])
     union all
     select 'rule ' || pg_get_ruledef(w.oid) || ' enabled=' || w.ev_enabled::text
       from rel r join pg_rewrite w on w.ev_class = r.oid where w.rulename <> '_RETURN'
     union all
     select 'statistics ' || pg_get_statisticsobjdef(s.oid) || ' target=' || coalesce(s.stxstattarget::text, '-1')
       || ' owner=' || pg_get_userbyid(s.stxowner) || ' comment=' || coalesce(obj_description(s.oid, 'pg_statistic_ext'), '')
       from pg_statistic_ext s join rel r on r.oid = s.stxrelid
     union all
     select 'publication ' || pubname || ' ' || schemaname || '.' || tablename || ' ' || ${pub} from pg_publication_tables
     union all
     select 'sequence ' || r.name || ' ' || format_type(q.seqtypid, null) || ' ' || q.seqstart || ' ' || q.seqincrement
       || ' ' || q.seqmin || ' ' || q.seqmax || ' ' || q.seqcache || ' ' || q.seqcycle || ' owner=' || pg_get_userbyid(r.relowner)
       || ' acl=' || coalesce(r.relacl::text, '') || ' persistence=' || r.relpersistence::text
       || ' comment=' || coalesce(obj_description(r.oid, 'pg_class'), '')
       from rel r join pg_sequence q on q.seqrelid = r.oid
     order by 1`,
    [[...exclude]],
  );
  return rows.map((r) => r.line);
}
