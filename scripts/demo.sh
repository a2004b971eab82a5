#!/usr/bin/env bash
# A real demo on this machine: a PostgreSQL 15 cluster with pgbench data, a FULL backup through the
# Temporal workflow (embedded mode: the CLI starts a local Temporal server under the catalog),
# `show`, a restore into a new directory, and the restored server started and checked.
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
PGBIN=/usr/lib/postgresql/15/bin

# PostgreSQL refuses to run as root; so does this demo, as a DBA would run it as the database's OS user.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --create-home postgres
  if ! runuser -u postgres -- test -r "$ROOT/package.json"; then
    echo "demo: $ROOT is not readable by the postgres user; run the demo from a readable checkout" >&2
    exit 1
  fi
  exec runuser -u postgres -- env HOME=/tmp PATH="$PATH" bash "$ROOT/scripts/demo.sh" "$@"
fi

GS="$ROOT/bin/gs_probackup"
WORK="$(mktemp -d /tmp/gsdemo.XXXXXX)"
PORT=$(( 20000 + RANDOM % 20000 ))
RPORT=$(( PORT + 1 ))
cleanup() {
  # The catalog's Temporal server lingers after the last command; the catalog goes, so does it.
  node -e 'require(process.argv[1]).stopEmbeddedServer(process.argv[2])' "$ROOT/dist/client/temporal/embeddedServer.js" "$WORK/catalog" >/dev/null 2>&1 || true
  "$PGBIN/pg_ctl" -D "$WORK/restored" -m immediate stop >/dev/null 2>&1 || true
  "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "create a PostgreSQL 15 cluster with data checksums in $WORK/data (port $PORT)"
"$PGBIN/initdb" -k -A trust -D "$WORK/data" >/dev/null
cat >> "$WORK/data/postgresql.conf" <<CONF
port = $PORT
unix_socket_directories = '$WORK'
listen_addresses = ''
wal_level = replica
max_wal_senders = 10
CONF
"$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/data.log" -w start >/dev/null
"$PGBIN/pgbench" -h "$WORK" -p "$PORT" -i -s 5 -q postgres 2>&1 | tail -1

export BACKUP_PATH="$WORK/catalog" PGHOST="$WORK" PGPORT="$PORT" PGDATABASE=postgres
step "gs_probackup init / add-instance"
"$GS" init
"$GS" add-instance --instance demo -D "$WORK/data"

step "gs_probackup backup -b FULL --stream -j 2 --progress"
"$GS" backup --instance demo -b FULL --stream -j 2 --progress

step "gs_probackup show"
"$GS" show

step "gs_probackup restore into $WORK/restored"
"$GS" restore --instance demo -D "$WORK/restored" -j 2

step "start the restored cluster (port $RPORT) and compare it with the source"
"$PGBIN/pg_ctl" -D "$WORK/restored" -l "$WORK/restored.log" -o "-p $RPORT" -w start >/dev/null
q='select count(*), sum(abalance) from pgbench_accounts'
src=$("$PGBIN/psql" -XAt -h "$WORK" -p "$PORT" -c "$q" postgres)
dst=$("$PGBIN/psql" -XAt -h "$WORK" -p "$RPORT" -c "$q" postgres)
echo "source:   $src"
echo "restored: $dst"
"$PGBIN/pg_amcheck" -h "$WORK" -p "$RPORT" --install-missing --all && echo "pg_amcheck: clean"
"$PGBIN/pg_ctl" -D "$WORK/restored" -m fast -w stop >/dev/null
"$PGBIN/pg_checksums" --check -D "$WORK/restored" | tail -2
[ "$src" = "$dst" ] || { echo "demo: restored data differs from the source" >&2; exit 1; }
step "demo finished: backup and restore are exact"
