#!/usr/bin/env bash
# CI: a PostgreSQL server of the tests' own, from Debian's packages, and ORLEANS_TEST_POSTGRES
# naming it. Source it (`. .ci/postgres.sh`) so the export reaches `dotnet test`; run it directly
# to just start the server. Idempotent: a second run finds the server running and reuses it.
#
#   ORLEANS_PG_DATA  data directory (default /tmp/orleans-pg; owned by the postgres user)
#   ORLEANS_PG_PORT  port on 127.0.0.1 (default 55432)
#
# Exports ORLEANS_TEST_POSTGRES (a connection string) and ORLEANS_PG_BIN (initdb, pg_ctl, ...).
#
# The role may create databases: each test class creates a fresh database and drops it after.

orleans_pg_main() {
  local data="${ORLEANS_PG_DATA:-/tmp/orleans-pg}"
  local port="${ORLEANS_PG_PORT:-55432}"
  local role=orleans password=orleans database=orleans
  local run_as=()
  if [ "$(id -u)" -eq 0 ]; then
    run_as=(runuser -u postgres --)
  fi

  local bin=""
  orleans_pg_find_bin() {
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  }
  orleans_pg_find_bin
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    . "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
    orleans_apt_install postgres.sh postgresql || return 1
    orleans_pg_find_bin
  fi

  if ! "${run_as[@]}" "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
    if [ ! -s "$data/PG_VERSION" ]; then
      mkdir -p "$data"
      [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$data"
      chmod 700 "$data"
      "${run_as[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null || {
        echo "postgres.sh: initdb of $data failed" >&2
        return 1
      }
    fi

    # Listen on loopback only; the socket directory is the data directory, so nothing needs
    # /var/run/postgresql. fsync stays on: the tests check durability promises, not speed.
    "${run_as[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
      -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$data -c max_connections=300" \
      start >/dev/null || {
        echo "postgres.sh: the server did not start; its log:" >&2
        tail -n 30 "$data/server.log" >&2
        return 1
      }
  fi

  local tries=0
  until "${run_as[@]}" "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; do
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then
      echo "postgres.sh: PostgreSQL on 127.0.0.1:$port does not accept connections" >&2
      return 1
    fi
    sleep 0.5
  done

  local psql=("${run_as[@]}" "$bin/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres)
  if [ "$("${psql[@]}" -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" != "1" ]; then
    "${psql[@]}" -c "CREATE ROLE $role LOGIN CREATEDB PASSWORD '$password'" || return 1
  fi
  if [ "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'")" != "1" ]; then
    "${psql[@]}" -c "CREATE DATABASE $database OWNER $role" || return 1
  fi

  # The binaries too: the cluster test that restarts PostgreSQL runs a server of its own with them.
  export ORLEANS_PG_BIN="$bin"
  export ORLEANS_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=$role;Password=$password;Database=$database"
  echo "postgres.sh: PostgreSQL ready on 127.0.0.1:$port (ORLEANS_TEST_POSTGRES=$ORLEANS_TEST_POSTGRES)"
}

orleans_pg_main "$@"
orleans_pg_status=$?
unset -f orleans_pg_main orleans_pg_find_bin
# `return` when sourced, `exit` when run.
return "$orleans_pg_status" 2>/dev/null || exit "$orleans_pg_status"
