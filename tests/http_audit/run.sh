#!/usr/bin/env bash
# Start a sandbox, run the graphql-http audit against it (needs node and npm).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
port="${AUDIT_PORT:-8798}"
workdir="$(mktemp -d)"
konvsync sandbox --port "$port" --db "$workdir/audit.db" 2>"$workdir/sandbox.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; rm -rf "$workdir"' EXIT
sleep 1.5
cd "$here"
[ -d node_modules ] || npm install --no-audit --no-fund --no-package-lock --silent
node audit.mjs "http://127.0.0.1:$port"
