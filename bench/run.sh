#!/usr/bin/env bash
# npm run bench -- [--scale N] [--runs R] [-j J] [--only cp,pg_basebackup,pgbackrest,gs_probackup]
#
# Wrapper of bench/bench.ts (see there for what is measured). It
#   - installs pgBackRest and GNU time when missing (as root, with apt-get), or says what is missing;
#   - builds dist/ when bench/bench.ts is newer than its compiled form;
#   - runs the benchmark as the unprivileged user `postgres` when started as root (PostgreSQL
#     refuses root, and our backup must run as the database's OS user);
#   - keeps its working directory in a temp dir it removes on exit, whatever happened, after
#     stopping a PostgreSQL or Temporal server the benchmark left running (e.g. when it was killed);
#   - copies the JSON result to bench/results/latest.json.
set -euo pipefail

root="$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
run_user="${BENCH_USER:-postgres}"
pg_bin="${PG_BIN:-/usr/lib/postgresql/15/bin}"

die() { echo "bench: $*" >&2; exit 1; }

need_pkg() { # command, Debian package
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bench: installing $2 (apt-get)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$2" >/dev/null || {
      apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y "$2" >/dev/null
    } || die "cannot install $2 with apt-get"
  else
    die "$1 is missing: install the Debian package $2 (as root: apt-get install -y $2)"
  fi
}
need_pkg pgbackrest pgbackrest
[ -x /usr/bin/time ] || need_pkg /usr/bin/time time
[ -x "$pg_bin/initdb" ] && [ -x "$pg_bin/pgbench" ] || die "PostgreSQL 15 binaries not found in $pg_bin (run: bash scripts/setup.sh)"
[ -x .tools/bin/temporal ] || command -v temporal >/dev/null || die "the temporal CLI is missing (run: bash scripts/setup.sh)"

if [ ! -f dist/bench/bench.js ] || [ bench/bench.ts -nt dist/bench/bench.js ] || [ ! -f dist/client/main.js ]; then
  echo "bench: building (npm run build)" >&2
  npm run build >/dev/null
fi

# Run as $run_user when root; as oneself otherwise (any non-root user can own a throw-away cluster).
as_user=()
if [ "$(id -u)" = 0 ]; then
  id "$run_user" >/dev/null 2>&1 || die "user $run_user does not exist (install postgresql-15 or set BENCH_USER)"
  as_user=(runuser -u "$run_user" --)
  "${as_user[@]}" test -r dist/bench/bench.js -a -x bin/gs_probackup -a -r dist/workflow-bundle.js ||
    die "user $run_user cannot read $root (bin/, dist/): make the repository readable by it"
fi

tmp="$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/gs_probackup-bench.XXXXXX")"
work="$tmp/work"
mkdir -m 700 "$work"
[ ${#as_user[@]} -eq 0 ] || chown -R "$run_user" "$tmp"

cleanup() {
  # Normally bench.js has stopped everything and emptied $work; this is for when it could not.
  # The timed command runs in its own process group (GNU time and the tool): stop it first.
  if [ -f "$work/timed.pgid" ]; then
    pgid="$(cat "$work/timed.pgid")"
    if [ -n "$pgid" ] && tr '\0' ' ' <"/proc/$pgid/cmdline" 2>/dev/null | grep -qF "$work/"; then
      kill -TERM -- "-$pgid" 2>/dev/null || true
      for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 1; done
      kill -KILL -- "-$pgid" 2>/dev/null || true
    fi
  fi
  if [ -f "$work/catalog/.temporal/server.json" ]; then
    pid="$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$work/catalog/.temporal/server.json" | head -1)"
    # Only our server: its command line names this catalog's database.
    if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$work/catalog/.temporal/temporal.db"; then
      kill "$pid" 2>/dev/null || true
      for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  if [ -f "$work/pgdata/postmaster.pid" ]; then
    "${as_user[@]}" "$pg_bin/pg_ctl" -D "$work/pgdata" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

status=0
"${as_user[@]}" env BENCH_WORKDIR="$work" BENCH_RESULT_FILE="$tmp/latest.json" \
  node --enable-source-maps dist/bench/bench.js "$@" || status=$?
if [ -f "$tmp/latest.json" ]; then
  mkdir -p bench/results
  cp "$tmp/latest.json" bench/results/latest.json
  echo "bench: results in bench/results/latest.json" >&2
fi
exit "$status"
