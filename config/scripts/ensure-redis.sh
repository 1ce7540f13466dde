#!/usr/bin/env bash
# Make sure a Redis answers at $REDIS_URL (default redis://127.0.0.1:6379/0):
# use one that is already there, start redis-server if it is installed,
# install it with apt-get if we are root, or stop with a clear message.
# A server it starts, it notes in $REDIS_STARTED_FILE, when that is set.
set -euo pipefail

url="${REDIS_URL:-redis://127.0.0.1:6379/0}"
scheme="${url%%://*}"
case "$scheme" in
  # Neither is one this script could start, so neither is this run's to stop.
  unix)
    [ -n "${REDIS_STARTED_FILE:-}" ] && rm -f "$REDIS_STARTED_FILE"
    # unix:///path/to/redis.sock?db=0, or unix://user@/path...: a socket, not a port.
    socket="${url#unix://}"; socket="${socket%%\?*}"
    [[ "$socket" == *@/* ]] && socket="/${socket#*@/}"
    if [ -S "$socket" ]; then echo "redis: using the server at $socket"; exit 0; fi
    echo "redis: no socket at $socket; start Redis there or set REDIS_URL" >&2; exit 1 ;;
  rediss)
    [ -n "${REDIS_STARTED_FILE:-}" ] && rm -f "$REDIS_STARTED_FILE"
    # TLS: a plain PING would not be understood; the engine reports it at its start.
    echo "redis: using the TLS server at ${url#rediss://}"; exit 0 ;;
esac
# The path and the query first: either may hold an @.
hostport="${url#*://}"; hostport="${hostport%%/*}"; hostport="${hostport%%\?*}"; hostport="${hostport##*@}"
if [[ "$hostport" == \[* ]]; then
  # [::1]:6379, an IPv6 address in brackets.
  host="${hostport#\[}"; host="${host%%]*}"; port="${hostport##*]}"; port="${port#:}"
else
  host="${hostport%%:*}"; port="${hostport##*:}"
  [ "$port" = "$hostport" ] && port=""
fi
[ -z "$host" ] && host=127.0.0.1
[ -z "$port" ] && port=6379

reachable() {
  # A PING over bash's /dev/tcp, so this works before any package is installed.
  exec 3<>"/dev/tcp/$host/$port" 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  local reply=""
  read -r -t 2 reply <&3 || true
  exec 3<&- 3>&-
  [[ "$reply" == +PONG* || "$reply" == -NOAUTH* ]]
}

if reachable; then
  echo "redis: using the server at $host:$port"
  # Not this run's to stop, whoever started it.
  [ -n "${REDIS_STARTED_FILE:-}" ] && rm -f "$REDIS_STARTED_FILE"
  exit 0
fi

case "$host" in
  127.*|localhost|::1) ;;
  *) echo "redis: nothing answers at $host:$port, and it is not this machine; start it or set REDIS_URL" >&2; exit 1 ;;
esac

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "redis: redis-server is not installed; installing it with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null; }
  else
    echo "redis: nothing answers at $host:$port and redis-server is not installed." >&2
    echo "       Install it (sudo apt-get install redis-server) or set REDIS_URL to a running Redis." >&2
    exit 1
  fi
fi

dir="$(pwd)/.run"
mkdir -p "$dir"
echo "redis: starting redis-server on $host:$port (log: .run/redis-$port.log)"
redis-server --daemonize yes --bind "$host" --port "$port" --save "" --appendonly no \
  --dir "$dir" --logfile "$dir/redis-$port.log" --pidfile "$dir/redis-$port.pid"
for _ in $(seq 50); do
  if reachable; then
    # `make run` names a file here: its runner stops this server when the run
    # ends, if it is still this one (its run_id), and nothing else uses it.
    if [ -n "${REDIS_STARTED_FILE:-}" ]; then
      run_id="$(redis-cli -h "$host" -p "$port" info server | sed -n 's/^run_id:\([0-9a-f]*\).*/\1/p')"
      address="$host"; [[ "$host" == *:* ]] && address="[$host]"  # IPv6, in a URL
      echo "redis://$address:$port/0 $run_id" > "$REDIS_STARTED_FILE"
    fi
    exit 0
  fi
  sleep 0.1
done
echo "redis: redis-server did not come up on $host:$port; see .run/redis-$port.log" >&2
exit 1
