#!/usr/bin/env bash
# Builds runnerd's packages from one build directory:
#
#   scripts/package.sh BUILD deb|rpm|all [OUTDIR]     (make deb, make rpm)
#
# The build is configured for /usr (-DCMAKE_INSTALL_PREFIX=/usr: only the
# install paths change, nothing is recompiled), built, and staged with
# `DESTDIR=STAGE cmake --install BUILD --strip` (packaging/install.cmake says
# what goes where). The .deb is that tree with a DEBIAN/ directory
# (packaging/deb/: control, maintainer scripts, the conffile) made by
# dpkg-gencontrol, dpkg-shlibdeps and `dpkg-deb --root-owner-group --build`;
# the .rpm is the same tree through rpmbuild (packaging/rpm/runnerd.spec).
# The version is packaging/deb/changelog's, whose upstream part must be the
# CMake project's. Prints the path of each package built, one per line, last.
# Environment: JOBS (parallel build jobs, default: nproc), CMAKE_FLAGS (for a
# build directory not configured yet; default: a RelWithDebInfo build).
set -euo pipefail
build=${1:?usage: package.sh BUILD deb|rpm|all [OUTDIR]}
kind=${2:?usage: package.sh BUILD deb|rpm|all [OUTDIR]}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
build=$(mkdir -p "$build" && cd "$build" && pwd)
out=${3:-$build/packages}
mkdir -p "$out"
out=$(cd "$out" && pwd)
case $kind in deb | rpm | all) ;; *) echo "package.sh: unknown kind '$kind' (deb, rpm or all)" >&2; exit 2 ;; esac

need() {  # TOOL PACKAGE: fail loudly when a tool is missing
  command -v "$1" >/dev/null || { echo "package.sh: $1 is missing (Debian package $2; scripts/install-deps.sh package)" >&2; exit 1; }
}
need cmake cmake
need strip binutils
need dpkg-parsechangelog dpkg-dev
if [ "$kind" != rpm ]; then
  need dpkg-deb dpkg
  need dpkg-gencontrol dpkg-dev
  need dpkg-shlibdeps dpkg-dev
fi
[ "$kind" = deb ] || need rpmbuild rpm

version=$(dpkg-parsechangelog -l packaging/deb/changelog -S Version)
upstream=${version%-*}
revision=${version##*-}
project=$(sed -n 's/^project(runnerd VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
if [ "$upstream" != "$project" ]; then
  echo "package.sh: packaging/deb/changelog is at $version but CMakeLists.txt at $project: add a changelog entry" >&2
  exit 1
fi

echo "package: building $build for /usr" >&2
# shellcheck disable=SC2086
cmake -S . -B "$build" -G Ninja ${CMAKE_FLAGS:--DCMAKE_BUILD_TYPE=RelWithDebInfo} \
  -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$build" -j "${JOBS:-$(nproc)}" >&2

work="$build/package"
rm -rf "$work"
mkdir -p "$work"
root="$work/root"
DESTDIR="$root" cmake --install "$build" --strip >/dev/null
# cmake --strip leaves the compiler's .comment section (as dh_strip does not).
strip --remove-section=.comment "$root/usr/bin/runnerd" "$root/usr/bin/runnerctl"
# Modes as a package wants them, whatever the umask was.
find "$root" -type d -exec chmod 0755 {} +
find "$root" -type f -exec chmod go-w {} +

built=()
if [ "$kind" != rpm ]; then
  deb="$work/deb"
  cp -a "$root" "$deb"
  mkdir -p "$deb/DEBIAN" "$work/src/debian"
  cp packaging/deb/control packaging/deb/changelog "$work/src/debian/"
  (
    cd "$work/src"
    dpkg-shlibdeps -Tdebian/substvars "$deb/usr/bin/runnerd" "$deb/usr/bin/runnerctl"
    dpkg-gencontrol -prunnerd -P"$deb" -Tdebian/substvars -fdebian/files
  )
  install -m 0644 packaging/deb/conffiles "$deb/DEBIAN/conffiles"
  # lintian's overrides, each with its reason: the .deb's alone (the package
  # test leaves the file out when it compares the .rpm's files with these).
  install -D -m 0644 packaging/deb/lintian-overrides "$deb/usr/share/lintian/overrides/runnerd"
  install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$deb/DEBIAN/"
  (cd "$deb" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) \
    > "$deb/DEBIAN/md5sums"
  chmod 0644 "$deb/DEBIAN/md5sums"
  arch=$(dpkg-architecture -qDEB_HOST_ARCH)
  file="$out/runnerd_${version}_${arch}.deb"
  dpkg-deb --root-owner-group -Zxz --build "$deb" "$file" >/dev/null
  built+=("$file")
fi

if [ "$kind" != deb ]; then
  rpmtop="$work/rpmbuild"
  mkdir -p "$rpmtop"
  # The unit's, tmpfiles.d's and sysusers.d's directories are where CMake put them.
  dir_of() { dirname "${1#"$root"}"; }
  rpmbuild -bb --quiet \
    --define "_topdir $rpmtop" \
    --define "_rpmdir $rpmtop/RPMS" \
    --define "runnerd_version $upstream" \
    --define "runnerd_release $revision" \
    --define "runnerd_stage $root" \
    --define "runnerd_unitdir $(dir_of "$(find "$root" -path '*/systemd/system/runnerd.service')")" \
    --define "runnerd_tmpfilesdir $(dir_of "$(find "$root" -path '*/tmpfiles.d/runnerd.conf')")" \
    --define "runnerd_sysusersdir $(dir_of "$(find "$root" -path '*/sysusers.d/runnerd.conf')")" \
    packaging/rpm/runnerd.spec >&2
  rpm=$(find "$rpmtop/RPMS" -name 'runnerd-*.rpm')
  cp "$rpm" "$out/"
  built+=("$out/$(basename "$rpm")")
fi
printf '%s\n' "${built[@]}"
