#!/usr/bin/env bash
# The test command: builds, then runs jest as an unprivileged OS user (PostgreSQL refuses root, and
# the manual wants backups run as the database's OS user). Prints `N passed, N failed` last.
set -uo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
cd "$ROOT"
npm run -s build || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
RESULTS="$(mktemp /tmp/gs_probackup-results.XXXXXX.json)"
chmod 666 "$RESULTS"
summary() {
  node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests + r.numRuntimeErrorTestSuites} failed`)' "$RESULTS" 2>/dev/null ||
    echo "0 passed, 1 failed"
  rm -f "$RESULTS"
}
if [ "$(id -u)" != 0 ]; then
  node node_modules/.bin/jest --json --outputFile="$RESULTS" "$@"
  rc=$?
  summary
  exit $rc
fi
RUN_AS="${GS_TEST_USER:-postgres}"
id "$RUN_AS" >/dev/null 2>&1 || useradd --system --create-home --home-dir /var/lib/postgresql "$RUN_AS"
DIR="$ROOT"
if ! runuser -u "$RUN_AS" -- test -r "$ROOT/package.json" -a -x "$ROOT/node_modules" -a -x "$ROOT/.tools/bin/temporal"; then
  # The checkout is not reachable for that user (a private home, say): test a copy it can read.
  DIR="$(mktemp -d /tmp/gs_probackup-test.XXXXXX)"
  cp -a "$ROOT/." "$DIR/"
  chmod 755 "$DIR"
  trap 'rm -rf "$DIR"' EXIT
fi
HOME_DIR="$(mktemp -d /tmp/gs_probackup-home.XXXXXX)"; chown "$RUN_AS" "$HOME_DIR"
cd "$DIR"
runuser -u "$RUN_AS" -- env HOME="$HOME_DIR" PATH="$PATH" ${TEMPORAL_CLI:+TEMPORAL_CLI="$TEMPORAL_CLI"} node node_modules/.bin/jest --json --outputFile="$RESULTS" "$@"
rc=$?
rm -rf "$HOME_DIR"
summary
exit $rc
