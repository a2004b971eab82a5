#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to run gs_probackup and its tests, then builds it:
#   PostgreSQL 15 server binaries (Debian `postgresql-15`), npm packages, the Temporal dev server
#   (`temporal` CLI v1.5.1 built from the Go module proxy, CGO off), and dist/ (tsc + workflow bundle).
# Idempotent: what is present is reused. The temporal binary is cached per machine in
# ${GS_PROBACKUP_CACHE:-~/.cache/gs_probackup} because building it takes minutes.
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
cd "$ROOT"
PGBIN=/usr/lib/postgresql/15/bin
TEMPORAL_VERSION=v1.5.1
CACHE="${GS_PROBACKUP_CACHE:-${HOME:-/root}/.cache/gs_probackup}"
say() { printf 'setup: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else say "need root for: $*"; exit 1; fi; }

apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- PostgreSQL 15 -------------------------------------------------------------------------------
if [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_amcheck" ]; then
  say "installing PostgreSQL 15 (Debian postgresql-15)"
  # No default cluster: tests and the demo create their own.
  as_root mkdir -p /etc/postgresql-common
  grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf ||
    echo 'create_main_cluster = false' | as_root tee -a /etc/postgresql-common/createcluster.conf >/dev/null
  apt_install postgresql-15 postgresql-client-15
fi
id postgres >/dev/null 2>&1 || as_root useradd --system --create-home --home-dir /var/lib/postgresql postgres

# --- Node packages --------------------------------------------------------------------------------
command -v node >/dev/null || { say "Node.js 20 is required (https://nodejs.org); not found on PATH"; exit 1; }
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- Temporal dev server -------------------------------------------------------------------------
if [ -n "${TEMPORAL_CLI:-}" ] && [ -x "$TEMPORAL_CLI" ]; then
  say "using TEMPORAL_CLI=$TEMPORAL_CLI"
elif [ ! -x .tools/bin/temporal ]; then
  mkdir -p .tools/bin
  cached="$CACHE/temporal-$TEMPORAL_VERSION"
  if [ ! -x "$cached" ]; then
    GO=go
    if ! command -v go >/dev/null; then
      # Debian's Go is too old for this module; the Go module proxy serves toolchains as modules.
      say "fetching a Go toolchain from the Go module proxy"
      command -v curl >/dev/null && command -v unzip >/dev/null || apt_install curl unzip ca-certificates
      tc="$CACHE/go-toolchain"; mkdir -p "$tc"
      curl -fsSL -o "$tc/go.zip" "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go1.23.4.linux-amd64.zip"
      (cd "$tc" && unzip -q -o go.zip)
      GO="$(find "$tc" -path '*/bin/go' -type f | head -1)"; chmod +x "$(dirname "$GO")"/* "$tc"/golang.org/toolchain*/pkg/tool/*/* 2>/dev/null || true
    fi
    say "building the temporal CLI $TEMPORAL_VERSION from the Go module proxy (takes a few minutes, once per machine)"
    mkdir -p "$CACHE/gobin"
    CGO_ENABLED=0 GOBIN="$CACHE/gobin" GOFLAGS=-mod=mod "$GO" install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_VERSION"
    mv "$CACHE/gobin/temporal" "$cached"
  fi
  cp "$cached" .tools/bin/temporal.tmp && chmod 755 .tools/bin/temporal.tmp && mv .tools/bin/temporal.tmp .tools/bin/temporal
fi

# --- Build ---------------------------------------------------------------------------------------
say "building (tsc + workflow bundle)"
npm run -s build
say "ready: ./bin/gs_probackup --help"
