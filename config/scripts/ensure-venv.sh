#!/usr/bin/env bash
# Make the virtualenv at $1 with the Python $2, or mend one that a failed
# attempt left without pip: Debian and Ubuntu ship venv's pip bootstrap in a
# package of its own (python3.X-venv), and without it `python3 -m venv`
# fails halfway, leaving a python but no pip. Installs that package with
# apt-get if we are root; otherwise stops with a clear message.
set -euo pipefail
venv="$1" python="$2"
command -v "$python" >/dev/null 2>&1 || { echo "venv: $python is not installed; set PYTHON to a Python 3.11" >&2; exit 1; }

[ -x "$venv/bin/pip" ] && exit 0
rm -rf "$venv"
"$python" -m venv "$venv" && exit 0
rm -rf "$venv"

package="python$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "venv: $python cannot make a virtualenv; installing $package with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$package" >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$package" >/dev/null; }
  "$python" -m venv "$venv" && exit 0
  rm -rf "$venv"
fi
echo "venv: $python cannot make a virtualenv (python -m venv failed)." >&2
echo "      On Debian or Ubuntu, install $package (sudo apt-get install $package) and run make again." >&2
exit 1
