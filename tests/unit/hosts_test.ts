import { assertEquals, assertThrows } from "../helpers/assert.ts";
import { fits, splitHosts } from "../../src/db/hosts.ts";

Deno.test("splitHosts: one URL per host, target_session_attrs taken out, other parameters kept", () => {
  const list = splitHosts("postgres://u:p@h1:5433,h2,[::1]:5434/db?sslmode=disable&target_session_attrs=primary");
  assertEquals(list.attrs, "primary");
  assertEquals(list.hosts, ["h1:5433", "h2:5432", "[::1]:5434"]);
  assertEquals(list.urls, [
    "postgres://u:p@h1:5433/db?sslmode=disable",
    "postgres://u:p@h2/db?sslmode=disable",
    "postgres://u:p@[::1]:5434/db?sslmode=disable",
  ]);
  assertEquals(splitHosts("postgresql://h/db").urls, ["postgresql://h/db"]);
  assertEquals(splitHosts("postgresql://h/db").attrs, undefined);
});

Deno.test("splitHosts: an unknown target_session_attrs is a usage error, password masked", () => {
  assertThrows(
    () => splitHosts("postgres://u:secret@h/db?target_session_attrs=master"),
    /Unknown target_session_attrs "master" in postgres:\/\/u:\*\*\*@h/,
  );
});

Deno.test("fits: libpq's meaning of each target_session_attrs", () => {
  const primary = { standby: false, readOnly: false };
  const standby = { standby: true, readOnly: true };
  const readOnlyPrimary = { standby: false, readOnly: true };
  const table = (attrs: Parameters<typeof fits>[0]) => [primary, standby, readOnlyPrimary].map((r) => fits(attrs, r));
  assertEquals(table("any"), [true, true, true]);
  assertEquals(table("read-write"), [true, false, false]);
  assertEquals(table("primary"), [true, false, true]);
  assertEquals(table("read-only"), [false, true, true]);
  assertEquals(table("standby"), [false, true, false]);
});
