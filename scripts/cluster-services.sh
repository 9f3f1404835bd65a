#!/usr/bin/env bash
# Starts the real servers the cluster tests use, on loopback, from Debian's packages:
# PostgreSQL on 127.0.0.1:55432 (user kefu, password kefu, database postgres: each test creates and
# drops its own) and Redis on
# 127.0.0.1:56379, both with their data under ${KEFU_SERVICES_DIR:-/tmp/kefu-services}.
# Installs the packages when missing and apt-get is usable (root). Idempotent: a server that
# already answers is left alone. nginx is started by the tests themselves (one per test).
# Prints what it could not do; the cluster tests then skip with that message.
set -uo pipefail
DIR="${KEFU_SERVICES_DIR:-/tmp/kefu-services}"
mkdir -p "$DIR"
need=()
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
[ -n "$(pg_bin)" ] || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null) \
    || echo "cluster-services: could not install ${need[*]}"
  # Debian starts the packaged services on their default ports; the tests use their own.
  (service redis-server stop; service nginx stop; service postgresql stop) >/dev/null 2>&1 || true
fi

# PostgreSQL refuses to run as root: run it as the unprivileged `postgres` user when we are root.
PGBIN="$(pg_bin)"
if [ -n "$PGBIN" ]; then
  as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then useradd --system --no-create-home postgres 2>/dev/null || true; fi
  PGDATA="$DIR/pg"
  if ! "$PGBIN/pg_isready" -q -h 127.0.0.1 -p 55432 2>/dev/null; then
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
      mkdir -p "$PGDATA" && [ "$(id -u)" = 0 ] && chown postgres "$PGDATA" "$DIR"
      echo kefu >"$DIR/pwfile" && chmod 644 "$DIR/pwfile"
      as_pg "'$PGBIN/initdb' -D '$PGDATA' -U kefu --pwfile='$DIR/pwfile' -A scram-sha-256 -E UTF8 --locale=C.UTF-8" >"$DIR/initdb.log" 2>&1 \
        || echo "cluster-services: initdb failed (see $DIR/initdb.log)"
    fi
    as_pg "'$PGBIN/pg_ctl' -D '$PGDATA' -l '$DIR/pg.log' -w -o \"-h 127.0.0.1 -p 55432 -k '$DIR' -c fsync=on -c max_connections=300\" start" >/dev/null 2>&1 \
      || echo "cluster-services: PostgreSQL did not start (see $DIR/pg.log)"
  fi
else
  echo "cluster-services: PostgreSQL is not installed"
fi

if command -v redis-server >/dev/null 2>&1; then
  if ! redis-cli -p 56379 ping >/dev/null 2>&1; then
    redis-server --port 56379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
      --dir "$DIR" --logfile "$DIR/redis.log" --pidfile "$DIR/redis.pid" \
      || echo "cluster-services: Redis did not start (see $DIR/redis.log)"
  fi
else
  echo "cluster-services: Redis is not installed"
fi
