/**
 * Rewrite rules of a table (`pg_get_ruledef`, not the `_RETURN` rule of views), enabled state
 * and comment.
 *
 * @module
 */

import { quoteIdent, quoteLiteral } from "../migration/quote.ts";
import { at, jsonList, Phase } from "./context.ts";
import type { TablePart } from "./part.ts";

/** A rule. */
export interface RuleCapture {
  readonly name: string;
  readonly definition: string;
  /** ev_enabled: `O`, `D`, `R`, `A` as for triggers. */
  readonly enabled: string;
  readonly comment: string | null;
}

const ENABLED: Record<string, string> = { D: "DISABLE", R: "ENABLE REPLICA", A: "ENABLE ALWAYS" };

/** The rules part. */
export const rules: TablePart<RuleCapture[]> = {
  key: "rules",
  select: () =>
    jsonList(
      `json_build_object('name', w.rulename, 'definition', pg_get_ruledef(w.oid), 'enabled', w.ev_enabled::text,
        'comment', obj_description(w.oid, 'pg_rewrite'))`,
      "from pg_rewrite w where w.ev_class = c.oid and w.rulename <> '_RETURN'",
      "w.rulename",
    ),
  render: (list, t) =>
    list.flatMap((w) => [
      ...at(Phase.rules, w.definition.replace(/;\s*$/, "")),
      ...(ENABLED[w.enabled]
        ? at(Phase.rules, `ALTER TABLE ${t.table} ${ENABLED[w.enabled]} RULE ${quoteIdent(w.name)}`)
        : []),
      ...(w.comment !== null
        ? at(Phase.comments, `COMMENT ON RULE ${quoteIdent(w.name)} ON ${t.table} IS ${quoteLiteral(w.comment)}`)
        : []),
    ]),
};
