/**
 * Triggers of a table: `pg_get_triggerdef` (constraint triggers included, internal ones and
 * partition clones left out), enabled state (DISABLE / ENABLE REPLICA / ENABLE ALWAYS) and
 * comment.
 *
 * @module
 */

import { quoteIdent, quoteLiteral } from "../migration/quote.ts";
import { at, jsonList, Phase } from "./context.ts";
import type { TablePart } from "./part.ts";

/** A trigger. */
export interface TriggerCapture {
  readonly name: string;
  readonly definition: string;
  /** tgenabled: `O` origin (default), `D` disabled, `R` replica, `A` always. */
  readonly enabled: string;
  readonly comment: string | null;
}

const ENABLED: Record<string, string> = { D: "DISABLE", R: "ENABLE REPLICA", A: "ENABLE ALWAYS" };

/** The triggers part. `tgparentid` (PG 13+) marks clones a partition gets from its parent. */
export const triggers: TablePart<TriggerCapture[]> = {
  key: "triggers",
  select: () =>
    jsonList(
      `json_build_object('name', g.tgname, 'definition', pg_get_triggerdef(g.oid), 'enabled', g.tgenabled::text,
        'comment', obj_description(g.oid, 'pg_trigger'))`,
      "from pg_trigger g where g.tgrelid = c.oid and not g.tgisinternal and g.tgparentid = 0",
      "g.tgname",
    ),
  render: (list, t) =>
    list.flatMap((g) => [
      ...at(Phase.triggers, g.definition),
      ...(ENABLED[g.enabled]
        ? at(Phase.triggers, `ALTER TABLE ${t.table} ${ENABLED[g.enabled]} TRIGGER ${quoteIdent(g.name)}`)
        : []),
      ...(g.comment !== null
        ? at(Phase.comments, `COMMENT ON TRIGGER ${quoteIdent(g.name)} ON ${t.table} IS ${quoteLiteral(g.comment)}`)
        : []),
    ]),
};
