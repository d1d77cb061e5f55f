#!/usr/bin/env bash
# tide backwards --atomic from source with the V8 flags its compiled binary bakes in (tools/permissions.ts
# V8_FLAGS): tide-atomic in the binary's configuration (local addition, not in shared/bench; floor psql-1).
source "$(dirname "${BASH_SOURCE[0]}")/tide.sh"
V8=$(cd "$TIDE_REPO" && sed -n 's/^export const V8_FLAGS[^=]*= \["\(.*\)"\];$/\1/p' tools/permissions.ts | sed 's/", "/,/g')
[[ -n $V8 ]] || { echo "tide-v8-atomic: no V8_FLAGS found in $TIDE_REPO/tools/permissions.ts" >&2; exit 1; }
TIDE_ARGS=(run -A --quiet --v8-flags="$V8" --config "$TIDE_REPO/deno.json" "$TIDE_REPO/main.ts")
version() { echo "tide --atomic $(cd "$TIDE_REPO" && git rev-parse --short HEAD) with --v8-flags=$V8"; }
down_all() { run "$(deno_bin)" "${TIDE_ARGS[@]}" backwards bench all --auto-agree --atomic; }
source "$(dirname "${BASH_SOURCE[0]}")/../lib/adapter.sh"; adapter_main "$@"
