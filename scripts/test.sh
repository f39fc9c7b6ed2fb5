#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up, then npm test (build, typecheck, unit and
# end-to-end tests against real registries started on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm test
