#!/usr/bin/env bash
# Installs the Debian packages runnerd needs to build, test and run its demo,
# skipping the ones already present. Runs as root (or through sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libuv1-dev libsimdjson-dev libcurl4-openssl-dev libzstd-dev libyaml-cpp-dev
  libgtest-dev googletest zstd python3 nodejs procps
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# python3 and node may come from elsewhere on a developer machine.
if command -v python3 >/dev/null; then missing=("${missing[@]/python3}"); fi
if command -v node >/dev/null; then missing=("${missing[@]/nodejs}"); fi
read -r -a missing <<<"${missing[*]}"
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
