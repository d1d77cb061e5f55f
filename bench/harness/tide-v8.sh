#!/usr/bin/env bash
# tide from source with the V8 flags its compiled binary bakes in (src/v8_flags.ts V8_FLAGS):
# the binary's configuration, measured on the same harness (local addition, not in shared/bench).
source "$(dirname "${BASH_SOURCE[0]}")/tide.sh"
V8=$(cd "$TIDE_REPO" && sed -n 's/^export const V8_FLAGS[^=]*= \["\(.*\)"\];$/\1/p' src/v8_flags.ts | sed 's/", "/,/g')
[[ -n $V8 ]] || { echo "tide-v8: no V8_FLAGS found in $TIDE_REPO/src/v8_flags.ts" >&2; exit 1; }
TIDE_ARGS=(run -A --quiet --v8-flags="$V8" --config "$TIDE_REPO/deno.json" "$TIDE_REPO/main.ts")
version() { echo "tide $(cd "$TIDE_REPO" && git rev-parse --short HEAD) with --v8-flags=$V8"; }
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  source "$(dirname "${BASH_SOURCE[0]}")/../lib/adapter.sh"; adapter_main "$@"
fi
