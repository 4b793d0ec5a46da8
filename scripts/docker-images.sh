#!/usr/bin/env bash
# Builds, on this machine, every image docker-compose.yml names, tagged exactly as it names
# them, for machines that reach no container registry; then builds dovewarden:local from the
# project Dockerfile. tests/compose runs against the result.
#
#   scripts/docker-images.sh
#
# Images of a registry (node:*-trixie-slim from the Dockerfile, redis, dovecot/dovecot and
# prom/prometheus from docker-compose.yml) are built only when no image of that tag is present:
# first `docker pull` is tried (briefly), then the image is made from a Debian 13 (trixie)
# minbase root built with debootstrap from the machine's Debian mirror and cached under
# $DOVEWARDEN_DOCKER_CACHE. An image this script built earlier from another recipe (its files
# in scripts/docker/ changed) is rebuilt. grafana/grafana is not built: it is no Debian
# package, and tests/compose starts every service but grafana. dovewarden:local is built every
# time (Docker's layer cache makes an unchanged tree quick); its build stages read npm packages
# from a cache filled on the host, never from the registry (scripts/docker/build-base).
#
#   DOVEWARDEN_DOCKER_CACHE=/path        roots and npm cache (default /var/cache/dovewarden/docker)
#   DOVEWARDEN_DOCKER_PULL=0             never try docker pull
#   DOVEWARDEN_DOCKER_PULL_TIMEOUT=15    seconds a docker pull may take before it counts as failed
#   DOVEWARDEN_DEBIAN_MIRROR=URL         the Debian mirror (default: the one apt uses here)
#   DOVEWARDEN_NODE_DIR=/path            the Node build (default /var/cache/dovewarden/node-VERSION)
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
REPO="$PWD"

CACHE="${DOVEWARDEN_DOCKER_CACHE:-/var/cache/dovewarden/docker}"
ROOTS="$CACHE/roots"
DEBS="$CACHE/debs"
SUITE=trixie
# The classic builder: BuildKit's frontend image cannot be pulled without a registry.
export DOCKER_BUILDKIT=0

log() { echo "docker-images: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", (b - a) / 1e9 }'; }

started_all=$(now)
docker info >/dev/null 2>&1 || die "no Docker engine answers (start dockerd first: docker info)"

# ---- what to build: the tags come from the Dockerfile and docker-compose.yml ----
dockerfile_arg() { sed -nE "s/^ARG $1=(.*)$/\1/p" Dockerfile | head -n1; }
NODE_IMAGE="$(dockerfile_arg NODE_IMAGE)"
NPM_VERSION="$(dockerfile_arg NPM_VERSION)"
[[ "$NODE_IMAGE" =~ ^node:([0-9]+\.[0-9]+\.[0-9]+)-trixie-slim$ ]] ||
  die "Dockerfile's NODE_IMAGE is '$NODE_IMAGE', expected node:X.Y.Z-trixie-slim"
NODE_VERSION="${BASH_REMATCH[1]}"
[ -n "$NPM_VERSION" ] || die "Dockerfile has no ARG NPM_VERSION=..."
mapfile -t COMPOSE_IMAGES < <(sed -nE "s/^[[:space:]]+image:[[:space:]]*['\"]?([^'\"[:space:]]+).*$/\1/p" docker-compose.yml | sort -u)
[ ${#COMPOSE_IMAGES[@]} -gt 0 ] || die "no image: lines in docker-compose.yml"

# ---- the Debian mirror, as scripts/setup-dovecot.sh finds it ----
# shellcheck source=lib/debian-mirror.sh
source scripts/lib/debian-mirror.sh
MIRROR="$(debian_mirror)"

have_image() { docker image inspect "$1" >/dev/null 2>&1; }
recipe_of_image() { docker image inspect -f '{{ index .Config.Labels "org.dovewarden.recipe" }}' "$1" 2>/dev/null || true; }

# A short pull; false when it fails or takes too long (no registry, as on the test machines).
try_pull() {
  [ "${DOVEWARDEN_DOCKER_PULL:-1}" != 0 ] || return 1
  local t; t=$(now)
  if timeout "${DOVEWARDEN_DOCKER_PULL_TIMEOUT:-15}" docker pull -q "$1" >/dev/null 2>&1; then
    log "$1: pulled ($(since "$t"))"
    return 0
  fi
  log "$1: not pullable ($(since "$t")), building it"
  return 1
}

# The hash of what an image is made of: its scripts/docker folder and the extra words given.
recipe_hash() {
  local dir="$1"; shift
  { (cd "$dir" && find . -type f | LC_ALL=C sort | xargs sha256sum); echo "$SUITE $*"; } |
    sha256sum | cut -c1-16
}

# Whether the image must be built: missing, or built here from an older recipe. An image this
# script did not build (pulled, or loaded by hand) is kept as it is.
needs_build() {
  local tag="$1" recipe="$2" have
  have_image "$tag" || return 0
  have="$(recipe_of_image "$tag")"
  if [ -n "$have" ] && [ "$have" != "$recipe" ]; then
    log "$tag: built from an older recipe ($have), rebuilding"
    return 0
  fi
  log "$tag: present"
  return 1
}

ensure_debootstrap() {
  command -v debootstrap >/dev/null 2>&1 && return 0
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >&2 ||
    { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >&2; }
}

# build_root NAME POST EXTRA PACKAGE...: a trixie minbase root with PACKAGE..., then the shell
# function POST run on it (or ":"), cached in $ROOTS/NAME under a key of the packages, POST's
# code and EXTRA (what else POST depends on).
build_root() {
  local name="$1" post="$2" extra="$3"; shift 3
  local root="$ROOTS/$name" key
  key="$SUITE $* | $post $extra"
  if [ "$post" != : ]; then key="$key $(declare -f "$post" | sha256sum | cut -c1-16)"; fi
  if [ -f "$root/.dovewarden-root" ] && [ "$(cat "$root/.dovewarden-root")" = "$key" ]; then
    log "root $name: cached ($root)"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "building the root $name needs root (debootstrap)"
  ensure_debootstrap
  local t tmp="$root.partial.$$"
  t=$(now)
  rm -rf "$tmp" "$tmp.log"
  mkdir -p "$ROOTS" "$DEBS"
  log "root $name: debootstrap $SUITE minbase + $* from $MIRROR"
  debootstrap --variant=minbase --cache-dir="$DEBS" --include="$(IFS=,; echo "$*")" \
    "$SUITE" "$tmp" "$MIRROR" >"$tmp.log" 2>&1 || {
    log "debootstrap of $name failed; last lines of $tmp.log:"
    tail -n 25 "$tmp.log" >&2
    exit 1
  }
  # What a slim image leaves out: apt's lists and archives, docs (copyrights stay), man pages,
  # locales, logs.
  rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/* "$tmp"/var/log/*.log \
    "$tmp"/usr/share/man/* "$tmp"/usr/share/info/* "$tmp"/usr/share/locale/* \
    "$tmp"/var/cache/debconf/*-old "$tmp"/var/lib/dpkg/*-old
  find "$tmp/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$tmp/usr/share/doc" -mindepth 1 -type d -empty -delete
  # The build machine's resolver is no business of the image: Docker provides one at run time.
  rm -f "$tmp/etc/resolv.conf" "$tmp/etc/hostname"
  "$post" "$tmp"
  echo "$key" >"$tmp/.dovewarden-root"
  rm -rf "$root" "$tmp.log"
  mv "$tmp" "$root"
  log "root $name: ready in $(since "$t") ($(du -sh "$root" | cut -f1))"
}

# import_root NAME: the root as a one-layer image, tagged by its key; prints the tag.
import_root() {
  local name="$1" root="$ROOTS/$1" tag
  tag="dovewarden-rootfs/$name:$(sha256sum <"$root/.dovewarden-root" | cut -c1-16)"
  if ! have_image "$tag"; then
    local t; t=$(now)
    tar -C "$root" --exclude=./.dovewarden-root --numeric-owner -c . |
      docker import - "$tag" >/dev/null
    log "root $name: imported as $tag ($(since "$t"))"
  fi
  drop_other_tags "dovewarden-rootfs/$name" "$tag"
  echo "$tag"
}

# drop_other_tags REPOSITORY KEEP: removes this script's older tags of REPOSITORY.
drop_other_tags() {
  local old
  for old in $(docker image ls --format '{{.Repository}}:{{.Tag}}' "$1"); do
    [ "$old" = "$2" ] || docker image rm "$old" >/dev/null 2>&1 || true
  done
}

# build_from_root TAG DIR RECIPE ROOTFS [BUILD-ARG...]: scripts/docker/DIR/Dockerfile on ROOTFS.
build_from_root() {
  local tag="$1" dir="$2" recipe="$3" rootfs="$4"; shift 4
  local args=() a t
  for a in "$@"; do args+=(--build-arg "$a"); done
  t=$(now)
  docker build --force-rm --label "org.dovewarden.recipe=$recipe" --build-arg "ROOTFS=$rootfs" \
    ${args[@]+"${args[@]}"} -t "$tag" "scripts/docker/$dir" >"$CACHE/build-$dir.log" 2>&1 || {
    log "docker build of $tag (scripts/docker/$dir) failed; last lines of $CACHE/build-$dir.log:"
    tail -n 30 "$CACHE/build-$dir.log" >&2
    exit 1
  }
  log "$tag: built ($(since "$t"), $(image_size "$tag"))"
}

image_size() {
  docker image inspect -f '{{ .Size }}' "$1" | awk '{ printf "%.0f MB", $1 / 1e6 }'
}

# ---- node:X-trixie-slim: Node, npm, tini, redis-server, ca-certificates ----
NODE_DIR="${DOVEWARDEN_NODE_DIR:-/var/cache/dovewarden/node-$NODE_VERSION}"
NPM_TGZ="$CACHE/npm-$NPM_VERSION.tgz"

ensure_node_build() {
  if [ ! -x "$NODE_DIR/bin/node" ]; then
    log "fetching Node $NODE_VERSION (scripts/install-node.sh)"
    DOVEWARDEN_NODE_VERSION="$NODE_VERSION" DOVEWARDEN_NODE_DIR="$NODE_DIR" \
      PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      bash scripts/install-node.sh >/dev/null
  fi
  [ "$("$NODE_DIR/bin/node" --version)" = "v$NODE_VERSION" ] ||
    die "$NODE_DIR/bin/node is not Node $NODE_VERSION"
  if [ ! -s "$NPM_TGZ" ]; then
    log "fetching npm $NPM_VERSION from the npm registry"
    local tmp; tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
    mkdir -p "$CACHE"
    mv "$tmp"/npm-*.tgz "$NPM_TGZ"
    rm -rf "$tmp"
  fi
}

post_node() {
  local root="$1"
  install -D -m 0755 "$NODE_DIR/bin/node" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules/npm"
  tar xzf "$NPM_TGZ" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 \
    --no-same-owner
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
}

build_node_image() {
  local tag="$NODE_IMAGE" recipe
  recipe="$(recipe_hash scripts/docker/node "node=$NODE_VERSION npm=$NPM_VERSION")"
  needs_build "$tag" "$recipe" || return 0
  have_image "$tag" || ! try_pull "$tag" || return 0
  ensure_node_build
  build_root node post_node "node=$NODE_VERSION npm=$NPM_VERSION" \
    ca-certificates tini redis-server libatomic1
  local rootfs
  rootfs="$(import_root node)"
  build_from_root "$tag" node "$recipe" "$rootfs" "NODE_VERSION=$NODE_VERSION"
}

# ---- the registry images docker-compose.yml names ----
build_compose_image() {
  local tag="$1" dir packages=()
  case "${tag%:*}" in
    redis) dir=redis; packages=(redis-server) ;;
    dovecot/dovecot)
      dir=dovecot
      packages=(dovecot-core dovecot-imapd dovecot-lmtpd dovecot-pop3d netcat-traditional tini ca-certificates)
      ;;
    prom/prometheus) dir=prometheus; packages=(prometheus wget ca-certificates) ;;
    grafana/grafana)
      if have_image "$tag"; then log "$tag: present"; else
        log "$tag: not built here (no Debian package); tests/compose leaves grafana out"
      fi
      return 0
      ;;
    dovewarden) return 0 ;; # built below from the project Dockerfile
    *) die "docker-compose.yml names $tag, which this script cannot build" ;;
  esac
  local recipe
  recipe="$(recipe_hash "scripts/docker/$dir" "${packages[*]}")"
  needs_build "$tag" "$recipe" || return 0
  have_image "$tag" || ! try_pull "$tag" || return 0
  build_root "$dir" : "" "${packages[@]}"
  local rootfs
  rootfs="$(import_root "$dir")"
  build_from_root "$tag" "$dir" "$recipe" "$rootfs"
}

# ---- dovewarden:local: the project Dockerfile, its npm packages from a cache ----
NPM_CACHE_CONTEXT="$CACHE/npm-context"

# An npm cache with every package of package-lock.json and npm itself, filled by the host's
# npm (which reaches the registry) and refilled when the lockfile changes.
fill_npm_cache() {
  local lock_hash marker="$NPM_CACHE_CONTEXT/.lock-hash"
  lock_hash="$( (sha256sum package-lock.json; echo "npm=$NPM_VERSION") | sha256sum | cut -c1-16)"
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$lock_hash" ]; then
    echo "$lock_hash"
    return 0
  fi
  command -v npm >/dev/null 2>&1 || die "filling the npm cache needs npm on the host"
  local t tmp
  t=$(now)
  tmp="$(mktemp -d)"
  # The manifests are all npm ci needs: package.json of the root and of every workspace the
  # lockfile knows (a workspace it does not know yet would make npm ci refuse).
  cp package.json package-lock.json "$tmp/"
  local workspace
  for workspace in $(node -e '
    const lock = require("./package-lock.json");
    for (const key of Object.keys(lock.packages))
      if (key !== "" && !key.includes("node_modules/")) console.log(key);'); do
    [ -f "$workspace/package.json" ] && cp --parents "$workspace/package.json" "$tmp/"
  done
  mkdir -p "$NPM_CACHE_CONTEXT"
  log "filling the npm cache for the image build from the registry ($NPM_CACHE_CONTEXT/npm)"
  (cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
    --cache "$NPM_CACHE_CONTEXT/npm" >/dev/null) || die "npm ci for the npm cache failed"
  npm cache add "npm@$NPM_VERSION" --cache "$NPM_CACHE_CONTEXT/npm" --loglevel=error >/dev/null ||
    die "npm cache add npm@$NPM_VERSION failed"
  rm -rf "$tmp" "$NPM_CACHE_CONTEXT/npm/_logs"
  echo "$lock_hash" >"$marker"
  log "npm cache filled in $(since "$t") ($(du -sh "$NPM_CACHE_CONTEXT/npm" | cut -f1))"
  echo "$lock_hash"
}

build_app_image() {
  local lock_hash build_base t
  lock_hash="$(fill_npm_cache)"
  build_base="dovewarden-build-base:$lock_hash"
  local recipe
  recipe="$(recipe_hash scripts/docker/build-base "$lock_hash $(docker image inspect -f '{{ .Id }}' "$NODE_IMAGE")")"
  if [ "$(recipe_of_image "$build_base")" != "$recipe" ]; then
    t=$(now)
    cp scripts/docker/build-base/Dockerfile "$NPM_CACHE_CONTEXT/Dockerfile"
    docker build --force-rm --label "org.dovewarden.recipe=$recipe" --build-arg "NODE_IMAGE=$NODE_IMAGE" \
      -t "$build_base" "$NPM_CACHE_CONTEXT" >"$CACHE/build-build-base.log" 2>&1 || {
      log "docker build of $build_base failed; last lines of $CACHE/build-build-base.log:"
      tail -n 30 "$CACHE/build-build-base.log" >&2
      exit 1
    }
    log "$build_base: built ($(since "$t"))"
  fi
  t=$(now)
  local revision
  revision="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  log "dovewarden:local: docker build (the project Dockerfile)"
  docker build --force-rm --build-arg "BUILD_IMAGE=$build_base" --build-arg "REVISION=$revision" \
    -t dovewarden:local . >"$CACHE/dovewarden-build.log" 2>&1 || {
    log "docker build of dovewarden:local failed; last lines of $CACHE/dovewarden-build.log:"
    tail -n 40 "$CACHE/dovewarden-build.log" >&2
    exit 1
  }
  log "dovewarden:local: built ($(since "$t"), $(image_size dovewarden:local))"
  # What earlier runs left: the build base of another lockfile, and untagged images of this
  # script's builds (dovewarden's label or the recipe label; nobody else's).
  t=$(now)
  drop_other_tags dovewarden-build-base "$build_base"
  # Untagged images of this script's earlier builds (an older dovewarden:local, older build
  # stages, each with its own node_modules), found by the labels they carry; the images of this
  # build's steps stay, they are the layer cache of the next one.
  local keep id removed=0
  keep=" $(sed -nE 's/^ ---> ([0-9a-f]{12})$/\1/p' "$CACHE/dovewarden-build.log" | tr '\n' ' ') "
  for id in $( (docker image ls -q --filter dangling=true --filter label=org.dovewarden.recipe
    docker image ls -q --filter dangling=true --filter label=org.opencontainers.image.title=dovewarden) |
    sort -u); do
    case "$keep" in *" $id "*) continue ;; esac
    docker image rm "$id" >/dev/null 2>&1 && removed=$((removed + 1))
  done
  log "$removed untagged image(s) of earlier builds removed ($(since "$t"))"
}

mkdir -p "$CACHE"
build_node_image
for image in "${COMPOSE_IMAGES[@]}"; do build_compose_image "$image"; done
build_app_image
log "done in $(since "$started_all")"
docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' |
  grep -E "^(dovewarden:local|${NODE_IMAGE//./\\.}|$(printf '%s|' "${COMPOSE_IMAGES[@]}" | sed 's/\./\\./g; s/|$//'))"$'\t' >&2 || true
