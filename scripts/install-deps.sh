#!/usr/bin/env bash
# Installs the Debian packages runnerd needs to build, test and run its demo,
# skipping the ones already present. Runs as root (or through sudo).
# `install-deps.sh bench` adds what only `make bench` uses (GNU parallel, the
# baseline it is compared with, and gnuplot for the plot); `install-deps.sh
# package` what `make deb`, `make rpm` and the package test (run by `make
# test`) use: dpkg-dev (dpkg-shlibdeps, dpkg-gencontrol), lintian, rpm
# (rpmbuild), bash-completion (the completion's test) and systemd for
# systemd-analyze, sysusers and tmpfiles.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libuv1-dev libsimdjson-dev libcurl4-openssl-dev libzstd-dev libyaml-cpp-dev libarchive-dev
  libsqlite3-dev sqlite3 libsystemd-dev clang libclang-rt-dev
  libgtest-dev googletest zstd python3 nodejs procps
  git python3-pip python3-requests python3-yaml
)
if [ "${1:-}" = bench ]; then
  packages+=(parallel gnuplot-nox)
fi
if [ "${1:-}" = package ]; then
  packages+=(dpkg-dev lintian rpm bash-completion adduser)
  command -v systemd-analyze >/dev/null || packages+=(systemd)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# python3 and node may come from elsewhere on a developer machine.
keep=()
for p in "${missing[@]}"; do
  if [ "$p" = python3 ] && command -v python3 >/dev/null; then continue; fi
  if [ "$p" = nodejs ] && command -v node >/dev/null; then continue; fi
  keep+=("$p")
done
missing=("${keep[@]}")
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
