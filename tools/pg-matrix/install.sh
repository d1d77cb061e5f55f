#!/usr/bin/env bash
# Installs the pinned PostgreSQL server binaries of the test version matrix (tools/matrix.ts)
# from the frozen lock, then restores each package's library symlinks: the packages' own
# postinstall does that, but npm does not run it here. Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error --ignore-scripts
for pkg in node_modules/pg*/; do
  (cd "$pkg" && node scripts/hydrate-symlinks.js)
  # The server runs as the postgres user when the tests run as root: it must read and run these.
  chmod -R a+rX "$pkg"
done
