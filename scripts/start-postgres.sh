#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for steppe's tests and benchmarks: installs Debian's postgresql
# package if no server binaries are found, makes a fresh cluster under /tmp (as the postgres OS
# user when run as root: initdb refuses root), listens on 127.0.0.1 only, on the first free port
# from 54329 up, with trust authentication (loopback, throwaway data), creates the database
# `steppe`, writes its URL to target/postgres-url and prints it.
# Safe to run twice: a server this script started and that still answers is reused.
# `scripts/start-postgres.sh --stop` stops it and removes its data directory and URL file.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
url_file="$root/target/postgres-url"
# One cluster per checkout, so that work trees on one machine do not share a database.
cluster="/tmp/steppe-postgres-$(printf '%s' "$root" | md5sum | cut -c1-12)"
port_first=54329
port_last=54429

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

find_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}


bin=$(find_bin || true)

if [ "${1:-}" = "--stop" ]; then
  if [ -n "$bin" ] && [ -d "$cluster/data" ]; then
    as_owner "$bin/pg_ctl" -D "$cluster/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$cluster" "$url_file"
  echo "start-postgres: stopped"
  exit 0
fi

if [ -z "$bin" ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get -o DPkg::Lock::Timeout=600 update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends postgresql
  bin=$(find_bin)
fi

mkdir -p "$root/target"
if [ -f "$cluster/port" ] && as_owner "$bin/pg_ctl" -D "$cluster/data" status >/dev/null 2>&1 \
  && "$bin/pg_isready" -q -h 127.0.0.1 -p "$(cat "$cluster/port")"; then
  url="postgres://postgres@127.0.0.1:$(cat "$cluster/port")/steppe"
  echo "$url" >"$url_file"
  echo "$url"
  exit 0
fi

# Anything left of an earlier cluster (a crash, a reboot) is thrown away.
if [ -d "$cluster/data" ]; then
  as_owner "$bin/pg_ctl" -D "$cluster/data" -m immediate -w stop >/dev/null 2>&1 || true
fi
rm -rf "$cluster"
mkdir -p "$cluster"
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$cluster"; fi

as_owner "$bin/initdb" -D "$cluster/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$cluster/initdb.log" 2>&1 \
  || { cat "$cluster/initdb.log" >&2; exit 1; }

# Ports from 54329 up lie in Linux's ephemeral range, so a port nobody listens on can still be
# taken by an outgoing connection's local end: a start that cannot bind tries the next port.
port=""
for candidate in $(seq "$port_first" "$port_last"); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
    continue
  fi
  # Each test opens a few pools at once, and tests run in parallel: room for 300 connections.
  if as_owner "$bin/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $candidate -k $cluster -c max_connections=300" start >/dev/null 2>&1; then
    port=$candidate
    break
  fi
  if ! grep -q "could not create any TCP/IP sockets" "$cluster/server.log"; then
    cat "$cluster/server.log" >&2
    exit 1
  fi
  as_owner mv "$cluster/server.log" "$cluster/server-$candidate.log"
done
if [ -z "$port" ]; then
  echo "start-postgres: no free port from $port_first to $port_last" >&2
  exit 1
fi

as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres steppe
as_owner sh -c "echo $port >'$cluster/port'"
url="postgres://postgres@127.0.0.1:$port/steppe"
echo "$url" >"$url_file"
echo "$url"
