# Sourced by scripts that debootstrap a Debian root (setup-dovecot.sh, docker-images.sh).
# debian_mirror prints the mirror to use: DOVEWARDEN_DEBIAN_MIRROR, else the one this machine's
# own apt sources point at (it is the one the network allows), else deb.debian.org.
debian_mirror() {
  local mirror="" f m
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list; do
    [ -f "$f" ] || continue
    m=$(grep -E '^(URIs:|deb )' "$f" | grep -E 'debian(/| |$)' | grep -v security | head -n1 |
      sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*$//') || true
    if [ -n "$m" ]; then mirror="$m"; break; fi
  done
  echo "${DOVEWARDEN_DEBIAN_MIRROR:-${mirror:-http://deb.debian.org/debian}}"
}
