import { toParameter } from "../../src/db/postgres.ts";
import { assertEquals } from "../helpers/assert.ts";

Deno.test("toParameter() encodes arrays as Postgres array literals, quoting every element", () => {
  assertEquals(toParameter(["a", 'b"c,', "d\\e", "{x}"]), '{"a","b\\"c,","d\\\\e","{x}"}');
  assertEquals(toParameter([]), "{}");
  assertEquals(toParameter([1, null]), '{"1",NULL}');
  assertEquals(toParameter("plain"), "plain");
});
