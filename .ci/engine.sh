#!/usr/bin/env bash
# Prebuilds the embedded OpenSearch test engine (test/engine) so that a CI run fails here, loudly,
# when Java 17+ or Maven (or Maven Central) is not there. Idempotent: a build that is up to date
# is left alone (test/engine/engine.js decides, the same check the jest globalSetup makes).
# Usage: bash .ci/engine.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/.."

command -v java >/dev/null 2>&1 || [ -x "${JAVA_HOME:-/nonexistent}/bin/java" ] || {
  echo "engine.sh: java not found (need a JDK 17+: apt-get install -y openjdk-17-jdk-headless)" >&2; exit 2; }
command -v mvn >/dev/null 2>&1 || {
  echo "engine.sh: mvn not found (need Maven: apt-get install -y maven)" >&2; exit 2; }

force=false
[ "${1:-}" = "--force" ] && force=true

start=$(date +%s)
node -e '
  const e = require("./test/engine/engine.js");
  e.buildEngine({ force: process.argv[1] === "true", log: (l) => console.error("engine.sh: " + l) })
    .then((r) => console.error("engine.sh: " + (r.built ? "built (" + r.reason + ") in " + (r.ms / 1000).toFixed(1) + " s" : "up to date")))
    .catch((err) => { console.error("engine.sh: " + (err && err.message ? err.message : err)); process.exit(err && err.code === "ENGINE_TOOL_MISSING" ? 2 : 1); });
' "$force"
test -s test/engine/target/classpath.txt || { echo "engine.sh: test/engine/target/classpath.txt missing after the build" >&2; exit 1; }
echo "engine.sh: OpenSearch test engine ready to start ($(( $(date +%s) - start )) s)" >&2
