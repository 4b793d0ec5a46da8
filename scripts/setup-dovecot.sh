#!/usr/bin/env bash
# Builds (once) a Debian 13 chroot holding Dovecot 2.4, the version dovewarden targets.
# Debian 12's glibc is too old to run trixie's binaries, so the tests run Dovecot 2.4
# inside this chroot. The result is cached outside the repo and reused when present.
#
#   scripts/setup-dovecot.sh            build if missing, print the root path
#   DOVEWARDEN_DOVECOT24_ROOT=/path     where to cache it (default /var/cache/dovewarden/dovecot-2.4)
set -euo pipefail

ROOT="${DOVEWARDEN_DOVECOT24_ROOT:-/var/cache/dovewarden/dovecot-2.4}"
MARKER="$ROOT/.dovewarden-ready"

if [ -f "$MARKER" ] && [ -x "$ROOT/usr/sbin/dovecot" ]; then
  echo "$ROOT"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "setup-dovecot: building the Dovecot 2.4 chroot needs root (debootstrap, chroot)" >&2
  exit 2
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "setup-dovecot: installing debootstrap" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >&2 ||
    { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >&2; }
fi

# The mirror this machine's own apt sources point at: it is the one the network allows.
# shellcheck source=lib/debian-mirror.sh
source "$(dirname "$0")/lib/debian-mirror.sh"
mirror="$(debian_mirror)"

tmp="$ROOT.partial.$$"
rm -rf "$tmp"
mkdir -p "$(dirname "$ROOT")"
echo "setup-dovecot: debootstrap trixie from $mirror into $ROOT (about a minute)" >&2
started=$(date +%s)
debootstrap --variant=minbase --include=dovecot-core,dovecot-imapd,dovecot-lmtpd,dovecot-pop3d \
  trixie "$tmp" "$mirror" >"$tmp.log" 2>&1 || {
  echo "setup-dovecot: debootstrap failed; last lines of $tmp.log:" >&2
  tail -n 20 "$tmp.log" >&2
  exit 1
}
rm -rf "$tmp/var/cache/apt/archives"/*.deb "$tmp/var/lib/apt/lists"/* "$tmp.log"
chroot "$tmp" /usr/sbin/dovecot --version >&2
touch "$tmp/.dovewarden-ready"
rm -rf "$ROOT"
mv "$tmp" "$ROOT"
echo "setup-dovecot: ready in $(($(date +%s) - started)) s" >&2
echo "$ROOT"
