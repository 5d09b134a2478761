#!/usr/bin/env bash
# The packages end to end, from one build directory (run by `make test` on the
# release build):
#
#   bash test/package/test_package.sh BUILD
#
# Builds the .deb and the .rpm (scripts/package.sh); lintian on the .deb;
# installs it with dpkg -i; checks the runnerd user and group, the directories'
# owners and modes, the conffile, the unit (systemd-analyze verify) and the
# bash completion against runnerctl's own help; starts the installed runnerd
# as systemd would (the unit's User, Group, ExecStart and LimitNOFILE, a clean
# environment, NOTIFY_SOCKET on a datagram socket of this test, which must get
# READY=1 once the socket listens and STOPPING=1 on SIGTERM); runs a flow
# through the installed runnerctl, as root and as a member of the runnerd
# group; stops the agent; purges the package and checks that nothing is left;
# compares the .rpm's file list with the .deb's.
#
# Needs root: it installs and purges the runnerd package on this machine, and
# removes a runnerd user left by an earlier purge (so that the postinst is seen
# creating it). A missing tool fails the test; nothing is skipped. Ends with
# "package: N passed, N failed".
set -uo pipefail
build=${1:?usage: test_package.sh BUILD}
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"

passed=0
failed=0
check() {  # DESCRIPTION COMMAND...: one check
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok      $what"
  else
    failed=$((failed + 1))
    echo "FAILED  $what"
  fi
}
die() {
  echo "package test: $*" >&2
  echo "package: $passed passed, $((failed + 1)) failed"
  exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root: it installs the runnerd package"
for tool in dpkg dpkg-deb dpkg-query lintian rpm rpmbuild systemd-analyze setpriv python3 \
    getent useradd userdel groupdel gzip man; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh package)"
done
[ -f /usr/share/bash-completion/bash_completion ] || die "bash-completion is missing (scripts/install-deps.sh package)"

work=$(mktemp -d /tmp/runnerd-package-test.XXXXXX)
chmod 0755 "$work"  # the runnerd user reaches the notify socket and the flow here
agent_pid=""
listener_pid=""
member=runnerd-pkgtest
cleanup() {
  [ -n "$agent_pid" ] && kill -KILL "$agent_pid" 2>/dev/null
  [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null
  if dpkg-query -W -f='${Status}' runnerd 2>/dev/null | grep -q installed; then
    dpkg_locked --purge runnerd >/dev/null 2>&1
  fi
  getent passwd "$member" >/dev/null && userdel "$member"
  rm -rf "$work"
}
trap cleanup EXIT

# dpkg, waiting for the lock while someone else's apt or dpkg holds it.
dpkg_locked() {
  local i out rc
  for ((i = 0; i < 120; i++)); do
    out=$(dpkg "$@" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] && grep -q "lock" <<<"$out"; then
      sleep 1
      continue
    fi
    printf '%s\n' "$out"
    return $rc
  done
  printf '%s\n' "$out"
  return 1
}

# --- build -------------------------------------------------------------------
echo "== packages ($build)"
mapfile -t packages < <(scripts/package.sh "$build" all "$work/out")
deb=""
rpm=""
for p in "${packages[@]}"; do
  case $p in *.deb) deb=$p ;; *.rpm) rpm=$p ;; esac
done
[ -f "$deb" ] || die "scripts/package.sh built no .deb"
[ -f "$rpm" ] || die "scripts/package.sh built no .rpm"
echo "$deb"
echo "$rpm"

# --- lintian: no error, no warning (overrides, with reasons, in packaging/deb/) -
echo "== lintian"
lintian --fail-on error,warning --display-info "$deb" >"$work/lintian.txt" 2>&1
lintian_rc=$?
cat "$work/lintian.txt"
check "lintian: no error or warning" [ $lintian_rc -eq 0 ]

# --- install -------------------------------------------------------------------
echo "== install"
if dpkg-query -W -f='${Status}' runnerd 2>/dev/null | grep -q installed; then
  echo "runnerd was installed: purging it first"
  dpkg_locked --purge runnerd >/dev/null || die "cannot purge the runnerd package installed before"
fi
if getent passwd runnerd >/dev/null || getent group runnerd >/dev/null; then
  pgrep -u runnerd >/dev/null 2>&1 && die "processes of the runnerd user are running"
  echo "removing the runnerd user and group left by an earlier purge"
  getent passwd runnerd >/dev/null && userdel runnerd
  getent group runnerd >/dev/null && groupdel runnerd
fi
dpkg_locked -i "$deb" || die "dpkg -i failed"

unit=$(dpkg -L runnerd | grep '/systemd/system/runnerd.service$')
check "the unit is installed ($unit)" test -f "$unit"
check "/usr/bin/runnerd and /usr/bin/runnerctl are installed" \
  test -x /usr/bin/runnerd -a -x /usr/bin/runnerctl
check "/etc/runnerd/runnerd.yaml is etc/runnerd.yaml" cmp -s /etc/runnerd/runnerd.yaml etc/runnerd.yaml
check "/etc/runnerd/runnerd.yaml is a conffile" \
  grep -q "^ /etc/runnerd/runnerd.yaml " <(dpkg-query -W -f='${Conffiles}\n' runnerd)
check "the kestra script libraries are in /usr/share/runnerd/lib" \
  test -f /usr/share/runnerd/lib/python/kestra.py -a -f /usr/share/runnerd/lib/node/@kestra-io/libs/index.js
check "the man pages are gzipped and render without warnings" bash -c '
  for m in /usr/share/man/man8/runnerd.8.gz /usr/share/man/man1/runnerctl.1.gz; do
    gzip -t "$m" || exit 1
    out=$(man --warnings -l "$m" 2>&1 >/dev/null) || exit 1
    [ -z "$out" ] || { echo "$out"; exit 1; }
  done'
check "copyright and changelog.Debian.gz are in /usr/share/doc/runnerd" \
  test -f /usr/share/doc/runnerd/copyright -a -f /usr/share/doc/runnerd/changelog.Debian.gz

# The user, the group and the directories.
IFS=: read -r _ _ uid gid _ home shell <<<"$(getent passwd runnerd)"
check "the runnerd user exists" test -n "${uid:-}"
check "runnerd is a system user (uid $uid < 1000)" test "${uid:-1000}" -lt 1000
check "runnerd's group is runnerd" test "$(getent group "${gid:-x}" | cut -d: -f1)" = runnerd
check "runnerd's home is /var/lib/runnerd and it has no login shell" \
  test "$home" = /var/lib/runnerd -a "$shell" = /usr/sbin/nologin
check "/var/lib/runnerd: runnerd:runnerd 750" test "$(stat -c '%U:%G %a' /var/lib/runnerd)" = "runnerd:runnerd 750"
check "/run/runnerd: runnerd:runnerd 755" test "$(stat -c '%U:%G %a' /run/runnerd)" = "runnerd:runnerd 755"

# The installed unit.
echo "== systemd-analyze verify $unit"
systemd-analyze verify "$unit" >"$work/verify.txt" 2>&1
verify_rc=$?
cat "$work/verify.txt"
check "systemd-analyze verify passes on the installed unit" [ $verify_rc -eq 0 ]
check "systemd-analyze verify says nothing about runnerd.service" \
  bash -c "! grep -q runnerd '$work/verify.txt'"
unit_value() { sed -n "s/^$1=//p" "$unit" | tail -n 1; }
check "the unit: Type=notify, Restart=on-failure, KillMode=process, Delegate=yes" test \
  "$(unit_value Type) $(unit_value Restart) $(unit_value KillMode) $(unit_value Delegate)" = \
  "notify on-failure process yes"
check "the unit runs as runnerd:runnerd" test "$(unit_value User):$(unit_value Group)" = runnerd:runnerd

# The bash completion knows every command and option runnerctl's help lists.
echo "== bash completion"
complete_words() {  # WORD...: what completing after "runnerctl WORD..." offers
  bash -c 'source /usr/share/bash-completion/bash_completion
    source /usr/share/bash-completion/completions/runnerctl
    COMP_WORDS=(runnerctl "$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
    _runnerctl runnerctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
}
commands=$(/usr/bin/runnerctl --help | sed -n '/^commands:/,/^$/p' | awk 'NF > 1 { print $1 }')
missing=$(comm -23 <(sort <<<"$commands") <(complete_words "" | sort))
check "completion offers every command ($(echo $commands))" test -z "$missing"
[ -z "$missing" ] || echo "  not offered: $missing"
help_options() {  # the options in the label column of a help text's "options:" section
  sed -n '/^options:/,$p' | tail -n +2 | sed -E 's/^ +//; s/  .*//' | grep -oE -- '--?[a-z][a-z-]*' | sort -u
}
missing=$(comm -23 <(/usr/bin/runnerctl --help | help_options) <(complete_words - | sort -u))
check "completion offers every global option" test -z "$missing"
[ -z "$missing" ] || echo "  not offered: $missing"
for c in $commands; do
  # `runnerctl help --help` is the global help: 'help' takes no option.
  [ "$c" = help ] && continue
  options=$(/usr/bin/runnerctl "$c" --help | help_options)
  missing=$(comm -23 <(echo "$options") <(complete_words "$c" - | sort -u))
  check "completion offers every option of '$c'" test -z "$missing"
  [ -z "$missing" ] || echo "  not offered: $missing"
done

# --- run the installed agent as systemd would ------------------------------------
echo "== the installed runnerd, as runnerd.service would run it"
read -r -a exec_start <<<"$(unit_value ExecStart)"
socket=""
for ((i = 0; i < ${#exec_start[@]}; i++)); do
  [ "${exec_start[i]}" = --socket ] && socket=${exec_start[i + 1]}
done
check "ExecStart names the socket /run/runnerd/runnerd.sock" test "$socket" = /run/runnerd/runnerd.sock
# The notify socket: a datagram socket that records each message, and whether
# the agent's socket existed when READY=1 came.
notify="$work/notify.sock"
python3 - "$notify" "$socket" "$work/notify.log" <<'PY' &
import os, socket, sys
path, agent_socket, log = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(log + ".tmp", "w") as f:
    f.write("listening\n")
os.rename(log + ".tmp", log)
while True:
    data = s.recv(4096).decode()
    with open(log, "a") as f:
        for line in data.split("\n"):
            f.write(line + "\n")
        if "READY=1" in data.split("\n"):
            f.write("agent socket at READY: %s\n" % os.path.exists(agent_socket))
PY
listener_pid=$!
for ((i = 0; i < 100; i++)); do [ -f "$work/notify.log" ] && break; sleep 0.05; done
[ -f "$work/notify.log" ] || die "the notify listener did not start"

limit=$(unit_value LimitNOFILE)
hard=$(ulimit -Hn)
[ "$hard" != unlimited ] && [ "$hard" -lt "$limit" ] && limit=$hard
(
  ulimit -n "$limit"
  exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/var/lib/runnerd USER=runnerd LOGNAME=runnerd SHELL=/usr/sbin/nologin \
    NOTIFY_SOCKET="$notify" RUNTIME_DIRECTORY=/run/runnerd STATE_DIRECTORY=/var/lib/runnerd \
    setpriv --reuid "$(unit_value User)" --regid "$(unit_value Group)" --init-groups -- \
    "${exec_start[@]}"
) >"$work/agent.log" 2>&1 &
agent_pid=$!
for ((i = 0; i < 200; i++)); do
  grep -q '^READY=1$' "$work/notify.log" && break
  kill -0 "$agent_pid" 2>/dev/null || break
  sleep 0.05
done
check "READY=1 arrives on NOTIFY_SOCKET" grep -q '^READY=1$' "$work/notify.log"
check "the socket listens when READY=1 arrives" grep -q '^agent socket at READY: True$' "$work/notify.log"
check "the agent runs as runnerd" test "$(ps -o user= -p "$agent_pid" 2>/dev/null)" = runnerd
check "the socket: runnerd:runnerd 660" test "$(stat -c '%U:%G %a' "$socket" 2>/dev/null)" = "runnerd:runnerd 660"

mkdir -p "$work/flows"
cat >"$work/flows/hello.yaml" <<'YAML'
id: package_hello
namespace: test.package
tasks:
  - id: hello
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo hello
  - id: lib
    type: io.kestra.plugin.scripts.python.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - python3 -c 'import kestra; print("kestra from", kestra.__file__)'
YAML
chmod -R a+rX "$work/flows"
/usr/bin/runnerctl --socket "$socket" run "$work/flows/hello.yaml" >"$work/run.txt" 2>&1
run_rc=$?
cat "$work/run.txt"
check "runnerctl run exits 0 (SUCCESS)" [ $run_rc -eq 0 ]
check "the run ends SUCCESS" grep -q SUCCESS "$work/run.txt"
check "the task's log line 'hello' is shown" grep -qE '(^|[^a-z_])hello$' "$work/run.txt"
check "Python tasks get the installed kestra library" \
  grep -q 'kestra from /usr/share/runnerd/lib/python/kestra.py' "$work/run.txt"
exec_id=$(/usr/bin/runnerctl --socket "$socket" ps -n 1 | awk 'NR == 2 { print $1 }')
check "runnerctl get: the execution is SUCCESS" \
  grep -q '"state": *"SUCCESS"' <(/usr/bin/runnerctl --socket "$socket" get --json "$exec_id")
check "runnerctl logs: the stored log has 'hello'" \
  grep -qE '(^|[^a-z_])hello$' <(/usr/bin/runnerctl --socket "$socket" logs "$exec_id")

# A member of the runnerd group, with no --socket: the system agent's socket.
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
  --groups runnerd "$member"
as_user() {  # USER COMMAND...: in a clean environment, as that user with its groups
  local user=$1
  shift
  env -i PATH=/usr/bin:/bin HOME=/nonexistent \
    setpriv --reuid "$user" --regid "$(id -g "$user")" --init-groups -- "$@"
}
as_user "$member" /usr/bin/runnerctl run "$work/flows/hello.yaml" >"$work/member.txt" 2>&1
member_rc=$?
cat "$work/member.txt"
check "a member of the runnerd group runs the flow (no --socket)" [ $member_rc -eq 0 ]
as_user nobody /usr/bin/runnerctl --socket "$socket" hello >"$work/nobody.txt" 2>&1
nobody_rc=$?
cat "$work/nobody.txt"
check "a user outside the runnerd group cannot use the socket" [ $nobody_rc -ne 0 ]
check "the state is owned by runnerd" \
  test -z "$(find /var/lib/runnerd -mindepth 1 ! -user runnerd -print -quit)"

kill -TERM "$agent_pid"
agent_rc=timeout
for ((i = 0; i < 200; i++)); do
  if ! kill -0 "$agent_pid" 2>/dev/null; then
    wait "$agent_pid"
    agent_rc=$?
    break
  fi
  sleep 0.05
done
check "SIGTERM: the agent exits 0 (got $agent_rc)" [ "$agent_rc" = 0 ]
[ "$agent_rc" = 0 ] && agent_pid=""
check "STOPPING=1 arrives on NOTIFY_SOCKET" grep -q '^STOPPING=1$' "$work/notify.log"
echo "-- the agent's log"
cat "$work/agent.log"

# --- purge ---------------------------------------------------------------------
echo "== purge"
dpkg_locked --purge runnerd >/dev/null
check "dpkg --purge runnerd succeeds" bash -c "! dpkg-query -W -f='\${Status}' runnerd 2>/dev/null | grep -q installed"
for f in /usr/bin/runnerd /usr/bin/runnerctl "$unit" /etc/runnerd/runnerd.yaml /etc/runnerd \
    /usr/share/runnerd /var/lib/runnerd /run/runnerd \
    /etc/systemd/system/multi-user.target.wants/runnerd.service; do
  check "gone after purge: $f" test ! -e "$f"
done

# --- the .rpm holds the .deb's files ------------------------------------------------
echo "== rpm"
# Files only: the .deb lists every directory, the .rpm those it owns. Not in
# the .rpm: lintian's overrides.
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | sed 's|^\./|/|' |
  grep -v '^/usr/share/lintian/overrides/' | sort >"$work/deb.list"
rpm -qlvp "$rpm" 2>/dev/null | awk '$1 !~ /^d/ { print $NF }' | sort >"$work/rpm.list"
check "rpm -qlp lists the files of dpkg -c ($(wc -l <"$work/deb.list") files)" \
  diff -u "$work/deb.list" "$work/rpm.list"
check "the rpm's conffile is /etc/runnerd/runnerd.yaml" \
  test "$(rpm -qcp "$rpm" 2>/dev/null)" = /etc/runnerd/runnerd.yaml
check "the rpm creates the runnerd user before installing" \
  grep -q 'useradd -r -g runnerd' <(rpm -qp --scripts "$rpm" 2>/dev/null)
check "the rpm requires the libraries the binaries link (libuv)" \
  grep -q '^libuv.so.1' <(rpm -qp --requires "$rpm" 2>/dev/null)

echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
