#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up, then npm test (build, typecheck, unit and
# end-to-end tests against real registries started on 127.0.0.1) under the machine's Node, and
# again under each Node LTS line named in NODE_LINES (e.g. NODE_LINES="22 24") that is newer than
# it, taken from the npm registry's node-linux-<arch> package (it ships bin/node) into .tmp/.
# Default: the machine's Node only, until the suite's time allows running it twice in CI (issue 21).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm test

machine=$(node -p 'process.versions.node.split(".")[0]')
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) arch="" ;;
esac
for line in ${NODE_LINES-}; do
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
  echo "== npm test under Node $("$node_bin/node" --version)"
  PATH="$PWD/$node_bin:$PATH" npm test
done
