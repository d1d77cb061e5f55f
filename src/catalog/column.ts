/**
 * Columns: every attribute pg_dump emits for one (type, collation, default, identity,
 * generated STORED or VIRTUAL, NOT NULL with its PG 18 constraint name, storage, compression,
 * statistics target, attribute options, comment, column grants).
 *
 * Version differences: `attcompression` exists from PG 14; `attstattarget` is nullable from
 * PG 17 (null, and -1 before, mean the default); VIRTUAL generated columns (`attgenerated`
 * 'v') and NOT NULL constraints in pg_constraint (contype 'n', with names) from PG 18.
 *
 * @module
 */

import { quoteIdent, quoteLiteral } from "../migration/quote.ts";
import { at, type CatalogContext, Phase, type Phased } from "./context.ts";
import { renderGrants } from "./grant.ts";
import { type SequenceCapture, sequenceOptions } from "./sequence.ts";

/** A PG 18 NOT NULL constraint (pg_constraint contype 'n'). */
export interface NotNullCapture {
  readonly name: string;
  readonly valid: boolean;
  readonly noInherit: boolean;
  /** False when only inherited from a parent. */
  readonly local: boolean;
  readonly comment: string | null;
}

/** A column as the catalog described it. Fields after `comment` were added in tide 0.2. */
export interface ColumnCapture {
  readonly name: string;
  /** `format_type()` of the column, e.g. `character varying(100)`. */
  readonly type: string;
  /** Quoted collation when it differs from the type's default. */
  readonly collation: string | null;
  readonly notNull: boolean;
  readonly default: string | null;
  /** `a` (always), `d` (by default) or `""`. */
  readonly identity: string;
  /** Expression of a generated column, else null. */
  readonly generated: string | null;
  readonly comment: string | null;
  /** `s` STORED, `v` VIRTUAL (PG 18); absent in older captures (STORED). */
  readonly generatedKind?: string | null;
  /** attnum, and whether a later column exists (a re-added column goes last). */
  readonly position?: number;
  readonly last?: boolean;
  /** False for a column only inherited from a parent (omitted when INHERITS re-creates it). */
  readonly local?: boolean;
  /** `p`, `e`, `m`, `x` when it differs from the type's default. */
  readonly storage?: string | null;
  /** `p` pglz, `l` lz4 (PG 14+), null for the default. */
  readonly compression?: string | null;
  /** Statistics target when set, else null. */
  readonly statistics?: number | null;
  /**
   * attoptions set by users (`n_distinct`, `n_distinct_inherited`); options a server sets
   * itself (e.g. `pg_attver` on some builds, changing with every ALTER) are left out.
   */
  readonly options?: readonly string[] | null;
  readonly acl?: readonly string[] | null;
  readonly notNullConstraint?: NotNullCapture | null;
}

/** The json of one pg_attribute row `a` (joined with pg_type `t`, pg_attrdef `d`). */
export function columnJson(ctx: CatalogContext): string {
  const v = ctx.version;
  const notNull = v >= 180000
    ? `(select json_build_object('name', k.conname, 'valid', k.convalidated, 'noInherit', k.connoinherit,
          'local', k.conislocal, 'comment', obj_description(k.oid, 'pg_constraint'))
        from pg_constraint k where k.conrelid = a.attrelid and k.contype = 'n' and k.conkey[1] = a.attnum limit 1)`
    : "null";
  return `json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
    'collation', (select format('%I.%I', n.nspname, co.collname) from pg_collation co
       join pg_namespace n on n.oid = co.collnamespace where co.oid = a.attcollation and a.attcollation <> t.typcollation),
    'notNull', a.attnotnull,
    'default', case when a.attgenerated = '' then pg_get_expr(d.adbin, d.adrelid) end,
    'identity', a.attidentity::text,
    'generated', case when a.attgenerated <> '' then pg_get_expr(d.adbin, d.adrelid) end,
    'generatedKind', nullif(a.attgenerated::text, ''),
    'comment', col_description(a.attrelid, a.attnum),
    'position', a.attnum,
    'last', not exists (select 1 from pg_attribute l where l.attrelid = a.attrelid and l.attnum > a.attnum and not l.attisdropped),
    'local', a.attislocal,
    'storage', case when a.attstorage <> t.typstorage then a.attstorage::text end,
    'compression', ${v >= 140000 ? "nullif(a.attcompression::text, '')" : "null"},
    'statistics', case when a.attstattarget >= 0 then a.attstattarget::int end,
    'options', (select array_agg(o order by o) from unnest(a.attoptions) o where o ~ '^n_distinct(_inherited)?='),
    'acl', a.attacl::text[],
    'notNullConstraint', ${notNull})`;
}

/** The FROM part over the columns of the pg_class row `c`. */
export const COLUMNS_FROM = `from pg_attribute a join pg_type t on t.oid = a.atttypid
  left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
  where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped`;

/** How a column is declared where it is re-created. */
export interface DefinitionOptions {
  /** Leave identity out: a partition gets it from its parent when attached (PG 17+). */
  readonly noIdentity?: boolean;
  /** INHERITS brings the parent's NOT NULL constraints: declaring an inherited one would make it local. */
  readonly inherits?: boolean;
}

/** The column as CREATE TABLE or ADD COLUMN declares it. */
export function columnDefinition(
  c: ColumnCapture,
  sequences: readonly SequenceCapture[],
  options: DefinitionOptions = {},
): string {
  let sql = `${quoteIdent(c.name)} ${c.type}`;
  if (c.collation) sql += ` COLLATE ${c.collation}`;
  if (c.generated !== null) {
    sql += ` GENERATED ALWAYS AS (${c.generated}) ${c.generatedKind === "v" ? "VIRTUAL" : "STORED"}`;
  } else if ((c.identity === "a" || c.identity === "d") && !options.noIdentity) {
    const seq = sequences.find((s) => s.column === c.name && s.dependency === "i");
    sql += ` GENERATED ${c.identity === "a" ? "ALWAYS" : "BY DEFAULT"} AS IDENTITY`;
    if (seq) sql += ` (SEQUENCE NAME ${seq.name} ${sequenceOptions(seq)})`;
  } else if (c.default !== null) {
    sql += ` DEFAULT ${c.default}`;
  }
  const nn = c.notNullConstraint;
  if (nn && options.inherits && !nn.local) {
    // Inherited from the parent with INHERITS.
  } else if (nn) {
    // A NOT VALID one is added after the column (inline it would be validated).
    if (nn.valid) sql += ` CONSTRAINT ${quoteIdent(nn.name)} NOT NULL${nn.noInherit ? " NO INHERIT" : ""}`;
  } else if (c.notNull) {
    sql += " NOT NULL";
  }
  return sql;
}

const STORAGE: Record<string, string> = { p: "PLAIN", e: "EXTERNAL", m: "MAIN", x: "EXTENDED" };
const COMPRESSION: Record<string, string> = { p: "pglz", l: "lz4" };

/**
 * What CREATE TABLE / ADD COLUMN cannot carry: storage, compression, statistics target,
 * attribute options, a NOT VALID NOT NULL, grants, comments.
 */
export function columnExtras(table: string, c: ColumnCapture): Phased[] {
  const col = `ALTER TABLE ${table} ALTER COLUMN ${quoteIdent(c.name)}`;
  const out: Phased[] = [];
  if (c.storage && STORAGE[c.storage]) out.push(...at(Phase.columns, `${col} SET STORAGE ${STORAGE[c.storage]}`));
  if (c.compression && COMPRESSION[c.compression]) {
    out.push(...at(Phase.columns, `${col} SET COMPRESSION ${COMPRESSION[c.compression]}`));
  }
  if (c.statistics !== undefined && c.statistics !== null) {
    out.push(...at(Phase.columns, `${col} SET STATISTICS ${c.statistics}`));
  }
  if (c.options && c.options.length) out.push(...at(Phase.columns, `${col} SET (${optionList(c.options)})`));
  const nn = c.notNullConstraint;
  if (nn && !nn.valid) {
    out.push(
      ...at(
        Phase.constraints,
        `ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdent(nn.name)} NOT NULL ${quoteIdent(c.name)}${
          nn.noInherit ? " NO INHERIT" : ""
        } NOT VALID`,
      ),
    );
  }
  out.push(
    ...at(
      Phase.grants,
      ...renderGrants({ objectType: "TABLE", name: table, column: quoteIdent(c.name) }, c.acl ?? null, []),
    ),
  );
  if (c.comment !== null) {
    out.push(...at(Phase.comments, `COMMENT ON COLUMN ${table}.${quoteIdent(c.name)} IS ${quoteLiteral(c.comment)}`));
  }
  if (nn?.comment) {
    out.push(
      ...at(Phase.comments, `COMMENT ON CONSTRAINT ${quoteIdent(nn.name)} ON ${table} IS ${quoteLiteral(nn.comment)}`),
    );
  }
  return out;
}

/** `key=value` options as a SET/WITH list, values quoted: `fillfactor='70'`. */
export function optionList(options: readonly string[], prefix = ""): string {
  return options.map((o) => {
    const eq = o.indexOf("=");
    return eq < 0 ? `${prefix}${o}` : `${prefix}${o.slice(0, eq)}=${quoteLiteral(o.slice(eq + 1))}`;
  }).join(", ");
}

/** A column's type, nullability and default before `alterColumn`; more since tide 0.2. */
export interface AlterCapture {
  readonly kind: "alter";
  readonly type: string;
  readonly notNull: boolean;
  readonly default: string | null;
  /** The whole column, to restore attributes a type change resets (storage, compression, statistics). */
  readonly column?: ColumnCapture;
  /**
   * CHECK constraints and expression/partial indexes that involve the column: Postgres
   * re-parses them on a type change (a `citext` check comes back with `::text` casts), so the
   * reversal puts back the captured definitions.
   */
  readonly constraints?: readonly import("./constraint.ts").ConstraintCapture[];
  readonly indexes?: readonly import("./index.ts").IndexCapture[];
}
