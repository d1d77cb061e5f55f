import { PGLITE_VERSION, templatePath } from "../../src/db/pglite_template.ts";
import { assertEquals, assertMatch } from "../helpers/assert.ts";

Deno.test("templatePath() is per PGlite version, under TIDE_CACHE_DIR, XDG_CACHE_HOME or ~/.cache", () => {
  assertMatch(PGLITE_VERSION, /^\d+\.\d+\.\d+/);
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  assertEquals(templatePath(env({ TIDE_CACHE_DIR: "/c", HOME: "/h" })), `/c/pglite-${PGLITE_VERSION}.tar.gz`);
  assertEquals(templatePath(env({ XDG_CACHE_HOME: "/x", HOME: "/h" })), `/x/tide/pglite-${PGLITE_VERSION}.tar.gz`);
  assertEquals(templatePath(env({ HOME: "/h" })), `/h/.cache/tide/pglite-${PGLITE_VERSION}.tar.gz`);
  assertEquals(templatePath(env({})), undefined);
});
