#!/usr/bin/env bash
# A private PostgreSQL for the tests: its own data folder, loopback only, a port of its own, trust authentication
# for local test users only. `start` installs the Debian package when it is missing, creates the cluster and prints
# the connection string; `stop` stops it and removes the folder. Nothing else on the machine is touched.
set -euo pipefail
dir="${SSLCLUSTER_PG_DIR:-/tmp/sslcluster-test-pg}"
# The folder must be reachable by the postgres account when we run as root: keep it directly under /tmp.
# Below the kernel's ephemeral range (32768-60999 by default), so that no outgoing connection can hold it.
port="${SSLCLUSTER_PG_PORT:-31432}"

bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return; }; done
  command -v initdb >/dev/null && dirname "$(command -v initdb)"
}

as_pg() {
  # PostgreSQL refuses to run as root: use the postgres account when we are root.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    if [ -z "$(bin)" ]; then
      echo "test-postgres: installing postgresql" >&2
      if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    fi
    b="$(bin)"
    "$0" stop >/dev/null 2>&1 || true
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_pg "$b/initdb" -D "$dir/data" -U sslcluster --auth=trust -E UTF8 >/dev/null
    as_pg "$b/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off -c max_connections=200" start >/dev/null
    as_pg "$b/createdb" -h 127.0.0.1 -p "$port" -U sslcluster sslcluster
    echo "Host=127.0.0.1;Port=$port;Username=sslcluster;Database=sslcluster;Pooling=true"
    ;;
  stop)
    b="$(bin)"
    if [ -n "$b" ] && [ -d "$dir/data" ]; then as_pg "$b/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
