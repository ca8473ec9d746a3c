#!/bin/sh
# Installs the system packages the native executor builds against (oneDNN, nlohmann-json) and the
# compiler tool chain node-gyp needs, on Debian/Ubuntu; does nothing when they are all present.
# Runs apt-get through sudo unless already root. Used by the README's quick start and by .ci/run.
set -eu
need=""
for pkg in libdnnl-dev nlohmann-json3-dev g++ make python3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
[ -z "$need" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "topsched: install these with your package manager:$need (oneDNN 2.x, nlohmann-json, g++, make, python3)" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# shellcheck disable=SC2086 # word splitting of the package list is intended
$SUDO apt-get install -y --no-install-recommends $need
