#!/usr/bin/env bash
# axe-core, the accessibility checker the browser tests inject into the page, pinned, from the npm registry, into
# the ignored folder .cache/node (nothing is installed globally). Idempotent: does nothing when the pinned version is
# already there. Needs npm (Debian: apt-get install npm); without it the accessibility test fails and says so.
set -eu
AXE_VERSION=4.14.1
DEST="$(cd "$(dirname "$0")/.." && pwd)/.cache/node"
if [ -f "$DEST/node_modules/axe-core/package.json" ] && grep -q "\"version\": \"$AXE_VERSION\"" \
    "$DEST/node_modules/axe-core/package.json"; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "browser-deps: npm not found; cannot install axe-core" >&2; exit 0; }
mkdir -p "$DEST"
npm install --prefix "$DEST" --no-audit --no-fund --no-save --silent "axe-core@$AXE_VERSION" >&2
