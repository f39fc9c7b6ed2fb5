#!/usr/bin/env bash
# One command on a fresh machine: set up, start two throw-away local registries
# (localhost:5001 source, localhost:5002 destination), seed the source with example images,
# and run `ferry transfer --securityFile security.example.yaml --ruleFile rules/rule.yaml`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent build
exec node --import tsx scripts/demo.ts "$@"
