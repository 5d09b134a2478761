#!/usr/bin/env bash
# Starts podman's Docker-compatible API service for tests, from Debian
# packages, with a local busybox image (no registry is reachable). Idempotent:
# a service already answering on the socket is kept.
#
#   scripts/setup-podman.sh [DIR]   # default DIR: /tmp/runnerd-podman
#
# Prints the socket path on its last line. Groundwork for the Docker runner
# (issue 4); not yet part of `make test`.
#
# What this host needs (found by trying): runtime runc and cgroupfs (no
# systemd inside the sandbox), an empty default_ulimits (the host refuses to
# raise them), and images made locally with `podman import`.
set -euo pipefail

dir=${1:-/tmp/runnerd-podman}
sock="$dir/podman.sock"
mkdir -p "$dir"

need=()
for p in podman runc busybox-static; do
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

# localhost/busybox:latest: a root file system of busybox-static and its applets.
if ! podman image exists localhost/busybox:latest; then
  rootfs="$dir/busybox-rootfs"
  rm -rf "$rootfs"
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $("$rootfs/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  tar -C "$rootfs" -cf "$dir/busybox.tar" .
  podman import "$dir/busybox.tar" localhost/busybox:latest >&2
  rm -rf "$rootfs" "$dir/busybox.tar"
fi

answers() { curl -sf --max-time 2 --unix-socket "$sock" http://d/v1.41/version >/dev/null 2>&1; }
if ! answers; then
  rm -f "$sock"
  nohup podman system service --time=0 "unix://$sock" >"$dir/service.log" 2>&1 &
  for _ in $(seq 100); do
    answers && break
    sleep 0.1
  done
  if ! answers; then
    echo "setup-podman: the service did not answer on $sock; its log:" >&2
    sed 's/^/  | /' "$dir/service.log" >&2
    exit 1
  fi
fi
echo "$sock"
