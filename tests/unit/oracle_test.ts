/** The oracle's pure parts: SQL splitting, pg_dump normalisation, the diffs. */

import { assertEquals } from "../helpers/assert.ts";
import { splitSql } from "../helpers/fixtures.ts";
import { diffDumps, diffFingerprints, normaliseDump } from "../helpers/oracle.ts";

Deno.test("splitSql keeps semicolons inside quotes, dollar quotes and identifiers; drops comments", () => {
  assertEquals(
    splitSql(`-- a comment; still a comment
create function f() returns int language sql as $$ select 1; $$;
/* block; comment */ insert into "a;b" values ('x;y', 'it''s; fine');
do $body$ begin perform 1; end $body$`),
    [
      "create function f() returns int language sql as $$ select 1; $$",
      `insert into "a;b" values ('x;y', 'it''s; fine')`,
      "do $body$ begin perform 1; end $body$",
    ],
  );
});

Deno.test("normaliseDump drops comments, SET lines, restrict fences; sorts only column lines", () => {
  const dump = `--
-- PostgreSQL database dump
--
\\restrict abc
SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);

CREATE TABLE public.t (
    b text,
    a integer NOT NULL
)
WITH (fillfactor='80');

ALTER TABLE public.t OWNER TO app;
\\unrestrict abc
`;
  assertEquals(normaliseDump(dump), [
    "ALTER TABLE public.t OWNER TO app",
    "CREATE TABLE public.t ( a integer NOT NULL b text ) WITH (fillfactor='80')",
  ]);
  // Column order is all that is forgiven: a changed column still differs.
  const other = dump.replace("b text", "b varchar");
  assertEquals(diffDumps(normaliseDump(dump), normaliseDump(other)), [
    "- CREATE TABLE public.t ( a integer NOT NULL b text ) WITH (fillfactor='80')",
    "+ CREATE TABLE public.t ( a integer NOT NULL b varchar ) WITH (fillfactor='80')",
  ]);
});

Deno.test("diffFingerprints names gone, new and changed attributes", () => {
  assertEquals(
    diffFingerprints(
      { "table s.t": { owner: "a", "row security": "true" }, "trigger s.t.g": { enabled: "D" } },
      { "table s.t": { owner: "b", "row security": "true" }, "policy s.t.p": { command: "r" } },
    ),
    ['+ policy s.t.p (command="r")', '~ table s.t: owner: "a" → "b"', '- trigger s.t.g (enabled="D")'],
  );
  assertEquals(diffFingerprints({ "table s.t": { owner: "a" } }, { "table s.t": { owner: "a" } }), []);
});
