/**
 * What DROP COLUMN takes along, and re-adding it: the column with every attribute, the
 * constraints and indexes involving it (multi-column ones too), extended statistics on it,
 * inbound foreign keys, its owned sequence, CLUSTER ON / replica identity when their index
 * goes, and — on a partitioned table — the constraints and indexes defined on each partition.
 *
 * @module
 */

import type { Queryable } from "../db/database.ts";
import { type ColumnCapture, columnDefinition, columnExtras, columnJson, COLUMNS_FROM } from "./column.ts";
import {
  at,
  bareName,
  type CatalogContext,
  jsonList,
  type NotRestored,
  ordered,
  Phase,
  type Phased,
  qualified,
} from "./context.ts";
import {
  addConstraint,
  type ConstraintCapture,
  constraintExtras,
  constraintJson,
  constraintsSql,
  inboundSql,
} from "./constraint.ts";
import { foreignGrantors } from "./grant.ts";
import { attachIndex, createIndex, type IndexCapture, indexesSql, indexExtras, indexJson } from "./index.ts";
import { createOwnedSequences, type SequenceCapture, sequenceExtras, sequencesSql } from "./sequence.ts";
import { renderStatistics, type StatisticsCapture, statisticsSql } from "./statistics.ts";
import { CAPTURE_FORMAT } from "./table.ts";
import type { RetainedColumn, RetentionRefusal } from "../retention/model.ts";

/** What one partition loses with the column: its own constraints and indexes on it. */
export interface PartitionColumnCapture {
  readonly table: string;
  readonly constraints: readonly ConstraintCapture[];
  readonly indexes: readonly IndexCapture[];
}

/** What re-adding a dropped column needs. Fields after `sequences` were added in format 2. */
export interface ColumnDropCapture {
  readonly kind: "column";
  readonly table: string;
  readonly column: ColumnCapture;
  /** Constraints that involve the column (Postgres drops them with it). */
  readonly constraints: readonly ConstraintCapture[];
  readonly indexes: readonly IndexCapture[];
  readonly inbound: readonly ConstraintCapture[];
  readonly sequences: readonly SequenceCapture[];
  readonly format?: number;
  readonly owner?: string;
  /** The table is partitioned: its index-backed constraints are added ONLY, then each partition's attached. */
  readonly partitioned?: boolean;
  readonly statistics?: readonly StatisticsCapture[];
  /** CLUSTER ON / replica identity index, when it involves the column. */
  readonly clusterOn?: string | null;
  readonly replicaIndex?: string | null;
  /** Partitions (all levels, parents first) and what they lose. */
  readonly partitions?: readonly PartitionColumnCapture[];
  /** retention (issue 15): where the values are held, or why they could not be. */
  readonly retained?: RetainedColumn | RetentionRefusal;
  /**
   * Inherited constraints on the column in children that keep a local copy of it
   * (`child.constraint`): PostgreSQL leaves them behind, still counted as inherited, and re-adding
   * the parent's constraint counts the parent twice. They cannot be dropped (they are
   * inherited), so this is named as not restored.
   */
  readonly orphanedInChildren?: readonly string[];
}

const INVOLVES_INDEX = (attnum: string) =>
  `exists (select 1 from pg_depend dp where dp.classid = 'pg_class'::regclass and dp.objid = i.indexrelid
     and dp.refclassid = 'pg_class'::regclass and dp.refobjid = i.indrelid and dp.refobjsubid = ${attnum})`;

/** Captures a column before DROP COLUMN, or undefined when table or column does not exist. */
export async function captureColumnDrop(
  db: Queryable,
  ctx: CatalogContext,
  table: string,
  column: string,
): Promise<ColumnDropCapture | undefined> {
  const attnum = `(select attnum from pg_attribute where attrelid = c.oid and attname = $2 and not attisdropped)`;
  const [row] = await db.query<{ capture: ColumnDropCapture | null }>(
    `select case when ${attnum} is not null then json_build_object(
        'kind', 'column', 'format', ${CAPTURE_FORMAT}, 'table', ${qualified("c")}, 'owner', pg_get_userbyid(c.relowner),
        'partitioned', c.relkind = 'p',
        'column', (select ${columnJson(ctx)} ${COLUMNS_FROM} and a.attname = $2),
        'constraints', ${constraintsSql(ctx, `${attnum} = any(k.conkey)`)},
        'indexes', ${indexesSql(ctx, INVOLVES_INDEX(attnum))},
        'inbound', ${inboundSql(ctx, `${attnum} = any(k.confkey)`)},
        'sequences', ${sequencesSql(ctx, attnum)},
        'statistics', ${statisticsSql(ctx, `${attnum} = any(s.stxkeys::int2[])`)},
        'clusterOn', (select ${qualified("ic")} from pg_index i join pg_class ic on ic.oid = i.indexrelid
                       where i.indrelid = c.oid and i.indisclustered and ${INVOLVES_INDEX(attnum)}),
        'replicaIndex', (select ${qualified("ic")} from pg_index i join pg_class ic on ic.oid = i.indexrelid
                       where i.indrelid = c.oid and i.indisreplident and ${INVOLVES_INDEX(attnum)}),
        'partitions', case when c.relkind = 'p' then ${partitionsSql(ctx)} end,
        'orphanedInChildren', (select json_agg(format('%s.%I', k.conrelid::regclass, k.conname) order by k.conrelid::regclass::text, k.conname)
          from pg_inherits h
          join pg_attribute ca on ca.attrelid = h.inhrelid and ca.attname = $2 and not ca.attisdropped
          join pg_constraint k on k.conrelid = h.inhrelid and ca.attnum = any(k.conkey)
          where h.inhparent = c.oid and c.relkind <> 'p' and ca.attislocal and k.coninhcount > 0
            and exists (select 1 from pg_constraint pk where pk.conrelid = c.oid and pk.conname = k.conname
                          and ${attnum} = any(pk.conkey)))
      ) end as capture
      from pg_class c where c.oid = to_regclass($1)`,
    [table, column],
  );
  return row?.capture ?? undefined;
}

/** Each partition below `c` (parents first) with its own constraints and indexes on column $2. */
function partitionsSql(ctx: CatalogContext): string {
  const pattnum = `(select attnum from pg_attribute where attrelid = pt.relid and attname = $2 and not attisdropped)`;
  // The per-partition subqueries read the partition as `c`, like the table's own.
  return jsonList(
    `json_build_object('table', ${qualified("pc")},
       'constraints', (select ${
      jsonList(
        constraintJson(ctx),
        `from pg_constraint k join pg_class r on r.oid = k.conrelid
          where k.conrelid = pt.relid and k.contype in ('p', 'u', 'c', 'f', 'x') and ${pattnum} = any(k.conkey)
            and (k.contype in ('p', 'u', 'x') or (k.conislocal and k.conparentid = 0))`,
        "k.contype = 'f', k.conname",
      )
    }),
       'indexes', (select ${
      jsonList(
        indexJson(ctx),
        `from pg_index i join pg_class ic on ic.oid = i.indexrelid where i.indrelid = pt.relid
           and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid and k.conrelid = i.indrelid and k.contype in ('p', 'u', 'x'))
           and ${INVOLVES_INDEX(pattnum)}`,
        "ic.relname",
      )
    }))`,
    "from pg_partition_tree(c.oid) pt join pg_class pc on pc.oid = pt.relid where pt.level > 0",
    "pt.level, pc.relname",
  );
}

/** Statements that re-add a dropped column with what Postgres dropped along with it. */
export function readdColumn(c: ColumnDropCapture): string[] {
  return ordered(phasedColumnDrop(c));
}

function phasedColumnDrop(c: ColumnDropCapture): Phased[] {
  const tree = c.partitioned === true && c.partitions !== undefined;
  const indexBacked = (k: ConstraintCapture) => k.type === "p" || k.type === "u" || k.type === "x";
  const out: Phased[] = [
    ...at(Phase.sequences, ...createOwnedSequences(c.sequences)),
    ...at(Phase.create, `ALTER TABLE ${c.table} ADD COLUMN ${columnDefinition(c.column, c.sequences)}`),
    ...columnExtras(c.table, c.column),
    // On a partitioned table, pg_dump's way: the parent's index-backed constraints ONLY, then
    // each partition's own, attached — so that the partitions' names come back too.
    ...at(Phase.constraints, ...c.constraints.map((k) => addConstraint(k, tree && indexBacked(k)))),
    ...c.constraints.flatMap(constraintExtras),
    ...at(Phase.indexes, ...c.indexes.map((i) => tree ? i.definition : createIndex(withoutOnly(i)))),
    ...c.indexes.flatMap(indexExtras),
  ];
  for (const p of tree ? c.partitions! : []) {
    for (const k of p.constraints) {
      out.push(...at(Phase.partitions, addConstraint(k, indexBacked(k))));
      if (indexBacked(k) && k.parentIndex) {
        out.push(
          ...at(
            Phase.partitions,
            `ALTER INDEX ${k.parentIndex} ATTACH PARTITION ${schemaOf(k.table)}${quoteName(k.name)}`,
          ),
        );
      }
      out.push(...constraintExtras(k));
    }
    for (const i of p.indexes) {
      out.push(...at(Phase.partitions, createIndex(i), ...attachIndex(i)), ...indexExtras(i));
    }
  }
  if (c.clusterOn) out.push(...at(Phase.settings, `ALTER TABLE ${c.table} CLUSTER ON ${bareName(c.clusterOn)}`));
  if (c.replicaIndex) {
    out.push(...at(Phase.settings, `ALTER TABLE ${c.table} REPLICA IDENTITY USING INDEX ${bareName(c.replicaIndex)}`));
  }
  out.push(...renderStatistics(c.statistics ?? []));
  out.push(...sequenceExtras(c.table, c.sequences));
  out.push(...at(Phase.inbound, ...c.inbound.map((k) => addConstraint(k))));
  out.push(...c.inbound.flatMap(constraintExtras).filter((p) => p.phase === Phase.comments));
  return out;
}

/**
 * Without the partitions captured (an older capture), a partitioned table's index is
 * re-created whole (its partitions get new ones) rather than left invalid `ON ONLY`.
 */
function withoutOnly(i: IndexCapture): IndexCapture {
  return { ...i, definition: i.definition.replace(/ ON ONLY /, " ON ") };
}

function schemaOf(table: string): string {
  return table.slice(0, table.length - bareName(table).length);
}

function quoteName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** What re-adding the column cannot restore. */
export function notRestoredOfColumn(c: ColumnDropCapture): NotRestored[] {
  const object = `column ${c.table}.${c.column.name}`;
  const out: NotRestored[] = [];
  if (c.column.last === false || c.format === undefined) {
    out.push({
      object,
      what: `position: comes back as the table's last column${
        c.column.position !== undefined ? ` (it was column ${c.column.position})` : ""
      }`,
    });
  }
  if (c.column.last === false) {
    // pg_get_statisticsobjdef lists columns in table order: the re-added one now comes last.
    for (const s of c.statistics ?? []) {
      out.push({
        object: `statistics ${s.name}`,
        what: `column order: lists ${c.column.name} after the table's other columns`,
      });
    }
  }
  if (c.format === undefined) {
    out.push({
      object,
      what: "captured by an earlier tide: its grants, storage, compression, statistics target, " +
        "extended statistics and the indexes of partitions were not captured and do not come back",
    });
  }
  for (const child of c.orphanedInChildren ?? []) {
    out.push({
      object: `constraint ${child}`,
      what: "inheritance count: PostgreSQL keeps this inherited constraint when the parent's column goes (the child " +
        "keeps its own copy of the column), and cannot drop it; re-adding the parent's constraint counts the parent " +
        "twice (coninhcount 2)",
    });
  }
  out.push(...foreignGrantors(c.column.acl ?? null, c.owner).map((what) => ({ object, what })));
  return out;
}
