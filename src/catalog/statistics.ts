/**
 * Extended statistics (CREATE STATISTICS, `pg_get_statisticsobjdef`), their statistics target
 * (`stxstattarget`: PG 13+, nullable from PG 17), owner and comment.
 *
 * @module
 */

import { quoteIdent, quoteLiteral } from "../migration/quote.ts";
import { at, type CatalogContext, jsonList, Phase, type Phased } from "./context.ts";
import type { TablePart } from "./part.ts";

/** An extended statistics object. */
export interface StatisticsCapture {
  /** Quoted, schema-qualified. */
  readonly name: string;
  readonly definition: string;
  readonly target: number | null;
  readonly owner: string;
  readonly comment: string | null;
}

/** Extended statistics on the table `c`, optionally narrowed by `where` (over `s`). */
export function statisticsSql(ctx: CatalogContext, where = "true"): string {
  const target = ctx.version >= 130000 ? "case when s.stxstattarget >= 0 then s.stxstattarget::int end" : "null";
  return jsonList(
    `json_build_object('name', format('%I.%I', n.nspname, s.stxname), 'definition', pg_get_statisticsobjdef(s.oid),
      'target', ${target}, 'owner', pg_get_userbyid(s.stxowner), 'comment', obj_description(s.oid, 'pg_statistic_ext'))`,
    `from pg_statistic_ext s join pg_namespace n on n.oid = s.stxnamespace where s.stxrelid = c.oid and ${where}`,
    "s.stxname",
  );
}

/** Statements re-creating statistics objects. */
export function renderStatistics(list: readonly StatisticsCapture[]): Phased[] {
  return list.flatMap((s) => [
    ...at(Phase.statistics, s.definition),
    ...(s.target !== null ? at(Phase.statistics, `ALTER STATISTICS ${s.name} SET STATISTICS ${s.target}`) : []),
    ...at(Phase.statistics, `ALTER STATISTICS ${s.name} OWNER TO ${quoteIdent(s.owner)}`),
    ...(s.comment !== null ? at(Phase.comments, `COMMENT ON STATISTICS ${s.name} IS ${quoteLiteral(s.comment)}`) : []),
  ]);
}

/** The extended statistics part. */
export const statistics: TablePart<StatisticsCapture[]> = {
  key: "statistics",
  select: (ctx) => statisticsSql(ctx),
  render: (list) => renderStatistics(list),
};
