/**
 * Multi-host URLs (`postgres://h1:5432,h2:5432/db?target_session_attrs=primary`), as libpq
 * reads them. postgres.js tries the hosts in turn but judges `read-write` by
 * `default_transaction_read_only` only, which is off on a hot standby: it would stay there.
 * tide asks each server itself (`pg_is_in_recovery()`, `transaction_read_only`) and keeps the
 * first that fits.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { maskPasswords } from "../mask.ts";

/** libpq's values of `target_session_attrs`. */
export const SESSION_ATTRS = ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"] as const;

/** One of {@linkcode SESSION_ATTRS}. */
export type SessionAttrs = typeof SESSION_ATTRS[number];

/** A URL split into its hosts. */
export interface HostList {
  /** One single-host URL per host, in the URL's order, `target_session_attrs` removed. */
  readonly urls: readonly string[];
  /** `host:port` of each, for messages. */
  readonly hosts: readonly string[];
  /** The `target_session_attrs` asked for, if any. */
  readonly attrs: SessionAttrs | undefined;
}

/**
 * Splits a `postgres://` URL into one URL per host.
 *
 * @throws {UsageError} for an unknown `target_session_attrs`.
 */
export function splitHosts(url: string): HostList {
  const m = /^(postgres(?:ql)?:\/\/)([^@/?#]*@)?([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/i.exec(url);
  if (!m) return { urls: [url], hosts: [url], attrs: undefined };
  const [, scheme, user = "", hostPart = "", path = "", query = "", hash = ""] = m;
  const params = new URLSearchParams(query.slice(1));
  const raw = params.get("target_session_attrs") ?? undefined;
  params.delete("target_session_attrs");
  if (raw !== undefined && !(SESSION_ATTRS as readonly string[]).includes(raw)) {
    throw new UsageError(
      `Unknown target_session_attrs "${raw}" in ${maskPasswords(url)}: use one of ${SESSION_ATTRS.join(", ")}`,
    );
  }
  const rest = `${path}${params.size ? `?${params}` : ""}${hash}`;
  const hosts = hostPart.split(",");
  return {
    urls: hosts.map((h) => `${scheme}${user}${h}${rest}`),
    hosts: hosts.map((h) => (h === "" ? "localhost" : /:\d+$/.test(h) ? h : `${h}:5432`)),
    attrs: raw as SessionAttrs | undefined,
  };
}

/** What a server says about itself, for {@linkcode fits}. */
export interface ServerRole {
  readonly standby: boolean;
  readonly readOnly: boolean;
}

/** Whether a server fits `attrs` (`prefer-standby` is decided by the caller, over all hosts). */
export function fits(attrs: SessionAttrs, role: ServerRole): boolean {
  switch (attrs) {
    case "any":
    case "prefer-standby":
      return true;
    case "read-write":
      return !role.readOnly && !role.standby;
    case "read-only":
      return role.readOnly || role.standby;
    case "primary":
      return !role.standby;
    case "standby":
      return role.standby;
  }
}

/** Why a server does not fit, for the error listing every host. */
export function misfit(attrs: SessionAttrs, role: ServerRole): string {
  if (attrs === "standby" || attrs === "read-only") return "is a primary, accepting writes";
  return role.standby ? "is a standby (pg_is_in_recovery() is true)" : "is read-only (transaction_read_only is on)";
}
