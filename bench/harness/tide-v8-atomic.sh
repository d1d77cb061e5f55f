#!/usr/bin/env bash
# tide backwards --atomic with the binary's V8 flags (tide-v8.sh): tide-atomic in the binary's
# configuration (local addition, not in shared/bench; its floor is psql-1).
source "$(dirname "${BASH_SOURCE[0]}")/tide-v8.sh"
version() { echo "tide --atomic $(cd "$TIDE_REPO" && git rev-parse --short HEAD) with --v8-flags=$V8"; }
down_all() { run "$(deno_bin)" "${TIDE_ARGS[@]}" backwards bench all --auto-agree --atomic; }
source "$(dirname "${BASH_SOURCE[0]}")/../lib/adapter.sh"; adapter_main "$@"
