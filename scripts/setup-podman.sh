#!/usr/bin/env bash
# Starts podman's Docker-compatible API service for tests, from Debian
# packages, with a local busybox image (no registry is reachable). Idempotent:
# a service already answering on the socket is kept.
#
#   scripts/setup-podman.sh [DIR]   # default DIR: /tmp/runnerd-podman
#
# Prints the socket path on its last line. `make test` runs it before the
# tests (scripts/run-tests.sh); `make bench` before the container figures.
#
# Images (none can be pulled here), each made from this host's files:
#   localhost/busybox:latest  busybox-static and its applets; also tagged as
#                             busybox, ubuntu and centos (Kestra's default
#                             shell image, and the seeds' images)
#   localhost/python:3.11     Debian's python3 with requests and the `kestra`
#                             module; also tagged python:3.13-slim (Kestra's
#                             default Python image) and
#                             ghcr.io/kestra-io/pydata:latest (the seeds')
#
# What this host needs (found by trying): runtime runc and cgroupfs (no
# systemd inside the sandbox), an empty default_ulimits (the host refuses to
# raise them), and images made locally with `podman import`.
set -euo pipefail

dir=${1:-/tmp/runnerd-podman}
sock="$dir/podman.sock"
mkdir -p "$dir"

need=()
for p in podman runc busybox-static python3 python3-requests; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup-podman: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

cat >"$dir/containers.conf" <<'EOF'
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF="$dir/containers.conf"

here=$(cd "$(dirname "$0")/.." && pwd)

# A root file system with busybox-static and its applets, in "$1".
busybox_rootfs() {
  local rootfs=$1
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc" "$rootfs/root"
  chmod 1777 "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $("$rootfs/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  echo 'root:x:0:' >"$rootfs/etc/group"
}

# Copies files (and the shared libraries they need) into a root file system.
copy_with_libs() {
  local rootfs=$1
  shift
  local f lib
  for f in "$@"; do
    mkdir -p "$rootfs$(dirname "$f")"
    cp -a "$f" "$rootfs$f"
    for lib in $(ldd "$f" 2>/dev/null | grep -o '/[^ ]*'); do
      [ -e "$rootfs$lib" ] && continue
      mkdir -p "$rootfs$(dirname "$lib")"
      cp -L "$lib" "$rootfs$lib"
    done
  done
}

import_rootfs() {
  local rootfs=$1 name=$2
  tar -C "$rootfs" -cf "$dir/image.tar" .
  podman import "$dir/image.tar" "$name" >&2
  rm -rf "$rootfs" "$dir/image.tar"
}

tag() {  # tag IMAGE NAME...: names that stand in for images that can't be pulled
  local image=$1 name
  shift
  for name in "$@"; do
    podman image exists "$name" || podman tag "$image" "$name" >&2
  done
}

if ! podman image exists localhost/busybox:latest; then
  rm -rf "$dir/busybox-rootfs"
  busybox_rootfs "$dir/busybox-rootfs"
  import_rootfs "$dir/busybox-rootfs" localhost/busybox:latest
fi
tag localhost/busybox:latest docker.io/library/busybox:latest docker.io/library/ubuntu:latest \
  docker.io/library/centos:latest

if ! podman image exists localhost/python:3.11; then
  rootfs="$dir/python-rootfs"
  rm -rf "$rootfs"
  busybox_rootfs "$rootfs"
  py=/usr/bin/python3.11
  copy_with_libs "$rootfs" "$py" /usr/lib/python3.11/lib-dynload/*.so
  ln -sf python3.11 "$rootfs/usr/bin/python3"
  ln -sf python3.11 "$rootfs/usr/bin/python"
  mkdir -p "$rootfs/usr/lib/python3.11" "$rootfs/usr/lib/python3/dist-packages"
  (cd /usr/lib/python3.11 && tar --exclude=test --exclude=__pycache__ --exclude=idlelib \
     --exclude=tkinter --exclude=lib-dynload -cf - .) | tar -C "$rootfs/usr/lib/python3.11" -xf -
  cp -a /usr/lib/python3.11/lib-dynload "$rootfs/usr/lib/python3.11/"
  for pkg in requests urllib3 idna charset_normalizer certifi chardet six.py; do
    cp -a "/usr/lib/python3/dist-packages/$pkg" "$rootfs/usr/lib/python3/dist-packages/"
  done
  cp "$here/scripts/lib/python/kestra.py" "$rootfs/usr/lib/python3/dist-packages/"
  mkdir -p "$rootfs/etc/ssl/certs"
  import_rootfs "$rootfs" localhost/python:3.11
fi
tag localhost/python:3.11 docker.io/library/python:3.13-slim ghcr.io/kestra-io/pydata:latest

answers() { curl -sf --max-time 10 --unix-socket "$sock" http://d/v1.41/version >/dev/null 2>&1; }
# One service per socket: a live one (its pid in service.pid) is waited for,
# never replaced, even when it is slow to answer under load.
pidfile="$dir/service.pid"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && [ -S "$sock" ]; then
  for _ in $(seq 30); do
    answers && break
    sleep 1
  done
elif ! answers; then
  rm -f "$sock"
  # Run from its own directory: conmon leaves files (an `oom` marker when a
  # container hits its memory limit) in the service's working directory.
  (cd "$dir" && exec nohup podman system service --time=0 "unix://$sock" >"$dir/service.log" 2>&1) &
  echo $! >"$pidfile"
  for _ in $(seq 100); do
    answers && break
    sleep 0.1
  done
fi
if ! answers; then
  echo "setup-podman: the service did not answer on $sock; its log:" >&2
  sed 's/^/  | /' "$dir/service.log" >&2
  exit 1
fi
echo "$sock"
