#!/usr/bin/env bash
# Compose v2 (the docker CLI's compose plugin) for the compose stack test, which runs under every Compose it finds.
# Debian bookworm packages only docker-compose 1.29 and Go 1.19, and Compose v2.29.7 needs Go >= 1.21, so it builds
# from the Go module proxy with a Go of your own: `go install`, then ~/.docker/cli-plugins/docker-compose.
# Measured on the 2-core build machine (shared), empty module and build caches: 6 min 23 s wall, 5.7 CPU-minutes,
# 520 MB of modules and 781 MB of build cache. .ci/run runs this only with SIDEKICK_CI_COMPOSE_V2=1.
set -euo pipefail
VERSION=v2.29.7
say() { echo "compose-v2: $*" >&2; }

if docker compose version >/dev/null 2>&1; then say "$(docker compose version) is installed already"; exit 0; fi
command -v go >/dev/null 2>&1 || { say "needs Go >= 1.21 on PATH (Debian bookworm's golang-go is 1.19)"; exit 1; }
minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
[ "${minor:-0}" -ge 21 ] || { say "needs Go >= 1.21, found $(go env GOVERSION)"; exit 1; }

bin=$(mktemp -d "${TMPDIR:-/tmp}/sidekick-compose-v2.XXXXXX")
trap 'rm -rf "$bin"' EXIT
started=$(date +%s)
say "go install github.com/docker/compose/v2/cmd@$VERSION ..."
GOBIN=$bin go install -ldflags "-X github.com/docker/compose/v2/internal.Version=$VERSION" "github.com/docker/compose/v2/cmd@$VERSION"
mkdir -p "$HOME/.docker/cli-plugins"
install -m 0755 "$bin/cmd" "$HOME/.docker/cli-plugins/docker-compose"
say "$(docker compose version) in $(( $(date +%s) - started )) s"
