import { quoteIdent, quoteLiteral, quoteName, splitName } from "../../src/migration/quote.ts";
import { assertEquals, assertThrows } from "../helpers/assert.ts";

Deno.test("quoteIdent() doubles quotes so that no name can end the identifier", () => {
  assertEquals(quoteIdent("user"), '"user"');
  assertEquals(quoteIdent("Order"), '"Order"');
  assertEquals(quoteIdent('a"b'), '"a""b"');
  assertEquals(quoteIdent('x"; drop table t; --'), '"x""; drop table t; --"');
  assertThrows(() => quoteIdent(""), /empty/);
  assertThrows(() => quoteIdent("a\0b"), /NUL/);
});

Deno.test("quoteName() quotes schema and name apart, split at the first dot", () => {
  assertEquals(quoteName("billing.invoice"), '"billing"."invoice"');
  assertEquals(quoteName("band"), '"band"');
  assertEquals(splitName("a.b.c"), { schema: "a", name: "b.c" });
  assertEquals(splitName(".x"), { schema: undefined, name: ".x" });
});

Deno.test("quoteLiteral() doubles single quotes", () => {
  assertEquals(quoteLiteral("it's"), "'it''s'");
  assertEquals(quoteLiteral("a\\b"), "'a\\b'");
});
