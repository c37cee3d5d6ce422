#!/usr/bin/env bash
# Debian packages the test suite uses: espeak-ng (speech for synthetic clips) and chromium (browser test).
# Best effort: when they cannot be installed the tests that need them skip with a reason.
set -u
need=()
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: cannot install ${need[*]} (not root or no apt-get); dependent tests will skip" >&2
  exit 0
fi
echo "system-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >/tmp/vaedetect-apt.log 2>&1 \
  || echo "system-deps: apt-get failed (see /tmp/vaedetect-apt.log); dependent tests will skip" >&2
exit 0
