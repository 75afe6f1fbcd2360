#!/bin/sh
# check-confluent: vellum against the real @confluentinc/schemaregistry
# client (csfle-spec.md's authority), both ways; see confluent.js.
#
# usage: sh tests/confluent/run.sh path/to/vellum
#
# Installs the client from the npm registry (package.json here, 1.10.x)
# into a temporary folder, removed afterwards. Without node/npm or the
# registry it prints a visible "SKIP confluent: <reason>" and succeeds,
# except under CI (CI=true), where the same condition fails the check.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
vellum=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")

skip() {
    if [ "${CI:-}" = true ]; then
        echo "FAIL confluent: $1 (CI=true: this check may not be skipped)"
        exit 1
    fi
    echo "SKIP confluent: $1"
    exit 0
}

command -v node >/dev/null 2>&1 || skip "node is not installed (Debian: apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || skip "npm is not installed (Debian: apt-get install npm)"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 18 ] || skip "node $(node --version) is too old (the client needs 18 or later)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vellum-confluent.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
cp "$here/package.json" "$tmp/"
start=$(date +%s)
if ! timeout 60 npm ping --loglevel=error --fetch-retries=1 --fetch-retry-mintimeout=2000 \
    --fetch-retry-maxtimeout=5000 >"$tmp/npm.log" 2>&1; then
    sed 's/^/    /' "$tmp/npm.log" | tail -n 5
    skip "the npm registry is unreachable (npm ping failed)"
fi
echo "== confluent: installing @confluentinc/schemaregistry 1.10.x from the npm registry into $tmp"
if ! (cd "$tmp" && timeout 600 npm install --no-audit --no-fund --loglevel=error >>"$tmp/npm.log" 2>&1); then
    sed 's/^/    /' "$tmp/npm.log" | tail -n 20
    echo "FAIL confluent: npm install failed although the registry answers"
    exit 1
fi
installed=$(node -p "require('$tmp/node_modules/@confluentinc/schemaregistry/package.json').version")
echo "== confluent: client $installed installed in $(( $(date +%s) - start )) s; both directions:"
NODE_PATH="$tmp/node_modules" node "$here/confluent.js" "$vellum" "$tmp/work"
echo "== confluent: $(( $(date +%s) - start )) s in all"
