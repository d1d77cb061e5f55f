/**
 * A snapshot of the user-visible schema, to compare before and after a round trip: tables
 * (with owner, grants, row level security, storage parameters, replica identity, partition
 * bound), columns (by name; a re-added column comes back last), defaults, nullability,
 * constraints, indexes, sequences, triggers, policies, rules and comments.
 *
 * @module
 */

import type { Queryable } from "../db/database.ts";

/** A schema snapshot: one sorted line of text per object attribute, keyed by object. */
export type CatalogSnapshot = Readonly<Record<string, string>>;

const USER_SCHEMAS = "n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema'";

/**
 * Takes a snapshot of every user schema, leaving out the given tables (e.g. the history
 * table, whose rows change by design).
 */
export async function snapshotCatalog(db: Queryable, exclude: readonly string[] = []): Promise<CatalogSnapshot> {
  const skip = `and format('%I.%I', n.nspname, c.relname) <> all($1::text[])`;
  const rows = await db.query<{ key: string; value: string }>(
    `
    select 'table ' || format('%I.%I', n.nspname, c.relname) as key,
           'kind=' || c.relkind::text || ' persistence=' || c.relpersistence::text
           || ' owner=' || pg_get_userbyid(c.relowner) || ' acl=' || coalesce(c.relacl::text, '')
           || ' rls=' || c.relrowsecurity::text || '/' || c.relforcerowsecurity::text
           || ' options=' || coalesce(c.reloptions::text, '') || ' replident=' || c.relreplident::text
           || ' bound=' || coalesce(pg_get_expr(c.relpartbound, c.oid), '')
           || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '') as value
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p', 'v', 'm') and ${USER_SCHEMAS} ${skip}
    union all
    select 'column ' || format('%I.%I.%I', n.nspname, c.relname, a.attname),
           'type=' || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
           || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
           || ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text
           || ' collation=' || a.attcollation::text || ' comment=' || coalesce(col_description(c.oid, a.attnum), '')
      from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
      left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
     where c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped and ${USER_SCHEMAS} ${skip}
    union all
    select 'constraint ' || format('%I.%I.%I', n.nspname, c.relname, k.conname),
           pg_get_constraintdef(k.oid) || ' comment=' || coalesce(obj_description(k.oid, 'pg_constraint'), '')
      from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
     where k.contype in ('p', 'u', 'c', 'f', 'x') and ${USER_SCHEMAS} ${skip}
    union all
    select 'index ' || format('%I.%I', n.nspname, ic.relname),
           pg_get_indexdef(i.indexrelid) || ' comment=' || coalesce(obj_description(i.indexrelid, 'pg_class'), '')
      from pg_index i join pg_class ic on ic.oid = i.indexrelid join pg_class c on c.oid = i.indrelid
      join pg_namespace n on n.oid = ic.relnamespace
     where ${USER_SCHEMAS} ${skip}
    union all
    select 'sequence ' || format('%I.%I', n.nspname, c.relname),
           'type=' || format_type(q.seqtypid, null) || ' start=' || q.seqstart || ' increment=' || q.seqincrement
           || ' min=' || q.seqmin || ' max=' || q.seqmax || ' cache=' || q.seqcache || ' cycle=' || q.seqcycle
           || ' owned=' || coalesce((select format('%I.%I', tc.relname, ta.attname) from pg_depend dp
                join pg_class tc on tc.oid = dp.refobjid
                join pg_attribute ta on ta.attrelid = dp.refobjid and ta.attnum = dp.refobjsubid
               where dp.classid = 'pg_class'::regclass and dp.objid = c.oid and dp.deptype in ('a', 'i')), '')
      from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_sequence q on q.seqrelid = c.oid
     where ${USER_SCHEMAS} ${skip}
    union all
    select 'trigger ' || format('%I.%I.%I', n.nspname, c.relname, g.tgname),
           pg_get_triggerdef(g.oid) || ' enabled=' || g.tgenabled::text
      from pg_trigger g join pg_class c on c.oid = g.tgrelid join pg_namespace n on n.oid = c.relnamespace
     where not g.tgisinternal and ${USER_SCHEMAS} ${skip}
    union all
    select 'policy ' || format('%I.%I.%I', n.nspname, c.relname, p.polname),
           'command=' || p.polcmd::text || ' permissive=' || p.polpermissive::text || ' roles=' || p.polroles::text
           || ' using=' || coalesce(pg_get_expr(p.polqual, p.polrelid), '') || ' check=' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
      from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
     where ${USER_SCHEMAS} ${skip}
    union all
    select 'rule ' || format('%I.%I.%I', n.nspname, c.relname, w.rulename), pg_get_ruledef(w.oid)
      from pg_rewrite w join pg_class c on c.oid = w.ev_class join pg_namespace n on n.oid = c.relnamespace
     where w.rulename <> '_RETURN' and ${USER_SCHEMAS} ${skip}
    union all
    select 'schema ' || quote_ident(n.nspname), 'schema' from pg_namespace n where ${USER_SCHEMAS}
    `,
    [[...exclude]],
  );
  const snapshot: Record<string, string> = {};
  for (const row of rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) snapshot[row.key] = row.value;
  return snapshot;
}

/** One difference between two snapshots. */
export interface CatalogDifference {
  /** e.g. `index public.band_name_idx`. */
  readonly object: string;
  /** The attributes before, or null when the object did not exist. */
  readonly before: string | null;
  readonly after: string | null;
}

/** Lists what differs between two snapshots, by object. */
export function diffCatalog(before: CatalogSnapshot, after: CatalogSnapshot): CatalogDifference[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys
    .filter((k) => before[k] !== after[k])
    .map((k) => ({ object: k, before: before[k] ?? null, after: after[k] ?? null }));
}
