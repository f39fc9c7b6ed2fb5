#!/usr/bin/env bash
# Installs what ferry's demo and tests need on a fresh Debian machine: the registry the tests
# run (CNCF Distribution, Debian's docker-registry), skopeo as the independent checker, openssl
# and htpasswd for the TLS and auth fixtures, headless chromium to render the HTML report in the
# tests (ferry and the demo run without it), and the npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v openssl >/dev/null || missing+=(openssl)
command -v htpasswd >/dev/null || missing+=(apache2-utils)
command -v chromium >/dev/null || missing+=(chromium)
# `ferry save --compress zstd` and loading a .tar.zst pipe through the zstd program.
command -v zstd >/dev/null || missing+=(zstd)
# The fleet tests (ferry worker) start a throwaway Redis on loopback.
command -v redis-server >/dev/null || missing+=(redis-server)
# The terminal test draws the live progress bar in a narrow tmux pane and reads the screen back.
command -v tmux >/dev/null || missing+=(tmux)
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The Debian packages start a registry on :5000 and a Redis on :6379 where an init system runs;
# ferry's tests use neither (they start their own on random ports).

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
