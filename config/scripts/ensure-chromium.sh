#!/usr/bin/env bash
# The dashboard's tests drive Debian's Chromium through Playwright
# (`playwright install` cannot download browsers everywhere). Install it when
# missing and we are root; otherwise say so, and the browser tests say why
# they cannot run.
set -uo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "chromium: not installed; installing it with apt-get (for the browser tests)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
else
  echo "chromium: not installed and not root; install it (sudo apt-get install chromium) for the browser tests" >&2
fi
exit 0
