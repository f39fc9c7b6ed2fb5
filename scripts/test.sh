#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up, then npm test (build, typecheck, format, import
# rules, unit and end-to-end tests against real registries started on 127.0.0.1).
#
# Which Node runs what (issue 21): each Node LTS line in NODE_LINES (default "24") that is newer
# than the machine's Node runs the whole suite, taken from the npm registry's node-linux-<arch>
# package (it ships bin/node) into .tmp/. The machine's Node then runs MACHINE_TESTS: the unit
# tests and the end-to-end files that start the built CLI against real registries (cli,
# transfer-blobs): the whole suite twice does not fit CI's 15 minutes on 2 cores.
# NODE_LINES="" (or a machine whose Node is the newest line named) runs the whole suite under the
# machine's Node alone, as before.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

MACHINE_TESTS=(test/unit/*.test.ts test/e2e/cli.test.ts test/e2e/transfer-blobs.test.ts)

machine=$(node -p 'process.versions.node.split(".")[0]')
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) arch="" ;;
esac
newer=0
for line in ${NODE_LINES-24}; do
  [ "$line" -gt "$machine" ] || continue
  if [ -z "$arch" ]; then
    echo "scripts/test.sh: no node-linux package for $(uname -m); Node $line not tested" >&2
    exit 1
  fi
  dir=".tmp/node-$line"
  node_bin="$dir/node_modules/node-linux-$arch/bin"
  if [ ! -x "$node_bin/node" ]; then
    npm install --prefix "$dir" --no-save --no-audit --no-fund --no-package-lock "node-linux-$arch@$line"
  fi
  echo "== the whole suite (npm test) under Node $("$node_bin/node" --version)"
  # Node's compile cache (22+) spares each of the suite's few hundred CLI starts re-compiling the same code.
  PATH="$PWD/$node_bin:$PATH" NODE_COMPILE_CACHE="$PWD/.tmp/node-compile-cache" npm test
  newer=1
done

if [ "$newer" -eq 0 ]; then
  echo "== the whole suite (npm test) under the machine's Node $(node --version)"
  npm test
else
  # dist/ was built above (tsc's output does not depend on the Node that runs it).
  echo "== unit tests and ${MACHINE_TESTS[*]: -2} under the machine's Node $(node --version)"
  node --import tsx --test --test-concurrency=2 "${MACHINE_TESTS[@]}"
fi
