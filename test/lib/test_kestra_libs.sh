#!/usr/bin/env bash
# Tests runnerd's `kestra` script libraries (scripts/lib) with python3 and node.
#
# Each case runs one script with PYTHONPATH / NODE_PATH set as the Process
# runner sets them, captures stdout and stderr separately and checks:
#   * the exit status is 0,
#   * stdout and stderr are exactly the expected lines (timestamps written by
#     the Python logger are replaced by <TS> before comparing),
#   * every line on both streams matches ^::(\{.*})::$ and its JSON parses
#     to an object (Kestra's parser), lines being split on \n only,
#   * for cases with values that vary (timers, timestamps, stack traces), a
#     python3 check of the parsed lines.
# Ends with one line "N passed, N failed"; exits non-zero when a case fails.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
lib=$root/scripts/lib
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0

for tool in python3 node; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "FAIL $tool is not installed"
    echo "0 passed, 1 failed"
    exit 1
  fi
done

# run_py NAME [ENV=VALUE...] < script: runs the script with python3.
run_py() {
  local name=$1
  shift
  cat >"$tmp/$name.py"
  (cd "$tmp" && env PYTHONPATH="$lib/python" PYTHONDONTWRITEBYTECODE=1 "$@" \
    python3 "$tmp/$name.py" >"$tmp/$name.out" 2>"$tmp/$name.err")
  echo $? >"$tmp/$name.rc"
}

# run_node NAME [ENV=VALUE...] < script: runs the script with node.
run_node() {
  local name=$1
  shift
  cat >"$tmp/$name.js"
  (cd "$tmp" && env NODE_PATH="$lib/node" "$@" \
    node "$tmp/$name.js" >"$tmp/$name.out" 2>"$tmp/$name.err")
  echo $? >"$tmp/$name.rc"
}

# expect NAME out|err < expected lines (an empty heredoc means no output).
expect() {
  cat >"$tmp/$1.$2.expected"
}

# pycheck NAME < python code: extra assertions. The code sees `out` and `err`,
# the lists of parsed JSON objects of each stream, and fails by raising.
pycheck() {
  cat >"$tmp/$1.check.py"
}

normalize() {
  sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z - /<TS> - /g' "$1"
}

# finish NAME DESCRIPTION: runs every check of one case and counts it.
finish() {
  local name=$1 desc=$2 problems=() stream rc
  rc=$(cat "$tmp/$name.rc")
  [ "$rc" = 0 ] || problems+=("exit status $rc")
  for stream in out err; do
    if [ -f "$tmp/$name.$stream.expected" ]; then
      if ! diff -u --label expected --label "std$stream" "$tmp/$name.$stream.expected" \
        <(normalize "$tmp/$name.$stream") >"$tmp/$name.$stream.diff"; then
        problems+=("std$stream differs:" "$(cat "$tmp/$name.$stream.diff")")
      fi
    fi
  done
  local protocol
  if ! protocol=$(python3 - "$tmp/$name.out" "$tmp/$name.err" <<'PY' 2>&1
import json, re, sys
pattern = re.compile(r"::(\{.*})::")  # as Kestra's ^::(\{.*})::$, '.' excludes \n
for path in sys.argv[1:]:
    data = open(path, "rb").read().decode("utf-8")
    if not data:
        continue
    if not data.endswith("\n"):
        sys.exit(f"{path}: last line has no newline")
    for n, line in enumerate(data[:-1].split("\n"), 1):
        m = pattern.fullmatch(line)
        if not m:
            sys.exit(f"{path}:{n}: not a protocol line: {line!r}")
        try:
            value = json.loads(m.group(1))
        except ValueError as e:
            sys.exit(f"{path}:{n}: invalid JSON ({e}): {line!r}")
        if not isinstance(value, dict):
            sys.exit(f"{path}:{n}: not a JSON object: {line!r}")
PY
  ); then
    problems+=("protocol: $protocol")
  fi
  if [ -f "$tmp/$name.check.py" ]; then
    local check
    if ! check=$(python3 - "$tmp/$name.out" "$tmp/$name.err" "$tmp/$name.check.py" <<'PY' 2>&1
import json, sys
def parse(path):
    data = open(path, "rb").read().decode("utf-8")
    return [json.loads(l[2:-2]) for l in data.split("\n") if l]
out, err = parse(sys.argv[1]), parse(sys.argv[2])
exec(compile(open(sys.argv[3]).read(), "check", "exec"))
PY
    ); then
      problems+=("check: $check")
    fi
  fi
  if [ ${#problems[@]} -eq 0 ]; then
    passed=$((passed + 1))
    echo "ok   $name: $desc"
  else
    failed=$((failed + 1))
    echo "FAIL $name: $desc"
    printf '       %s\n' "${problems[@]}"
    echo "       --- stdout:"; sed 's/^/       | /' "$tmp/$name.out"
    echo "       --- stderr:"; sed 's/^/       | /' "$tmp/$name.err"
  fi
}

# ---------------------------------------------------------------- Python

run_py py_outputs <<'EOF'
from kestra import Kestra
Kestra.outputs({"k": "v", "n": 2, "f": 1.5, "b": True, "z": None, "l": [1, "a"], "o": {"x": {}}})
Kestra.outputs({})
EOF
expect py_outputs out <<'EOF'
::{"outputs": {"k": "v", "n": 2, "f": 1.5, "b": true, "z": null, "l": [1, "a"], "o": {"x": {}}}}::
::{"outputs": {}}::
EOF
expect py_outputs err </dev/null
finish py_outputs "outputs() writes one json.dumps line to stdout"

run_py py_metrics <<'EOF'
from kestra import Kestra
Kestra.counter("rows", 3, {"file": "a.csv"})
Kestra.counter("rows", 1)
Kestra.gauge("temp", 21.5, {"room": "b"})
Kestra.gauge("temp", 0)
Kestra.timer("dur", 2.12, {"step": "load"})
Kestra.timer("dur", 7)
EOF
expect py_metrics out <<'EOF'
::{"metrics": [{"name": "rows", "type": "counter", "value": 3, "tags": {"file": "a.csv"}}]}::
::{"metrics": [{"name": "rows", "type": "counter", "value": 1, "tags": {}}]}::
::{"metrics": [{"name": "temp", "type": "gauge", "value": 21.5, "tags": {"room": "b"}}]}::
::{"metrics": [{"name": "temp", "type": "gauge", "value": 0, "tags": {}}]}::
::{"metrics": [{"name": "dur", "type": "timer", "value": 2.12, "tags": {"step": "load"}}]}::
::{"metrics": [{"name": "dur", "type": "timer", "value": 7, "tags": {}}]}::
EOF
expect py_metrics err </dev/null
finish py_metrics "counter/gauge/timer(number), tags default to {}"

run_py py_assets <<'EOF'
from kestra import Kestra
Kestra.assets({"inputs": [{"id": "a"}], "outputs": [{"id": "b", "type": "TABLE"}]})
EOF
expect py_assets out <<'EOF'
::{"assets": {"inputs": [{"id": "a"}], "outputs": [{"id": "b", "type": "TABLE"}]}}::
EOF
expect py_assets err </dev/null
finish py_assets "assets() writes an assets line"

run_py py_format <<'EOF'
import contextlib, io, sys
from kestra import Kestra
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    s = Kestra.format({"outputs": {"a": 1}, "logs": [{"level": "INFO", "message": "m"}]})
if buf.getvalue() or not isinstance(s, str):
    sys.exit("format() printed something or returned a non-string")
sys.stdout.write(s + "\n")
EOF
expect py_format out <<'EOF'
::{"outputs": {"a": 1}, "logs": [{"level": "INFO", "message": "m"}]}::
EOF
expect py_format err </dev/null
finish py_format "format() returns the line and prints nothing"

run_py py_unicode <<'EOF'
from kestra import Kestra
Kestra.outputs({"s": "\u00e9\u2028\u0085\u2029\u65e5\n\t\"q\"\\", "e": "\U0001F600", "\u00e9": 1})
EOF
expect py_unicode out <<'EOF'
::{"outputs": {"s": "\u00e9\u2028\u0085\u2029\u65e5\n\t\"q\"\\", "e": "\ud83d\ude00", "\u00e9": 1}}::
EOF
expect py_unicode err </dev/null
finish py_unicode "non-ASCII, U+2028/U+0085, newlines escaped (ensure_ascii)"

run_py py_timer_callable <<'EOF'
import time
from kestra import Kestra
calls = []
def work():
    calls.append(1)
    Kestra.outputs({"inside": True})
    time.sleep(1.05)
Kestra.timer("t", work, {"k": "v"})
Kestra.timer("quick", lambda: None)
Kestra.outputs({"calls": len(calls)})
EOF
pycheck py_timer_callable <<'EOF'
assert len(out) == 4 and not err, (out, err)
assert out[0] == {"outputs": {"inside": True}}, out[0]
m = out[1]["metrics"]
assert len(m) == 1 and m[0]["name"] == "t" and m[0]["type"] == "timer" and m[0]["tags"] == {"k": "v"}, m
# elapsed seconds: Kestra's microsecond-field difference would be ~50 or negative
assert isinstance(m[0]["value"], float) and 1.05 <= m[0]["value"] < 5, m[0]["value"]
q = out[2]["metrics"][0]
assert q["name"] == "quick" and q["tags"] == {} and 0 <= q["value"] < 0.5, q
assert out[3] == {"outputs": {"calls": 1}}, out[3]
EOF
finish py_timer_callable "timer(callable) runs it once and reports elapsed seconds"

run_py py_logger_levels <<'EOF'
import logging
from kestra import Kestra
log = Kestra.logger()
log.debug("d %s", 1)
log.info("i")
log.warning("w")
log.error("e")
log.critical("c")
log.log(5, "dropped: below the DEBUG logger level")
log.log(15, "t15")
log.log(25, "between")
log.log(45, "t45")
log.info("multi\nline \u00e9 \u2028")
EOF
expect py_logger_levels out <<'EOF'
::{"logs": [{"level": "DEBUG", "message": "<TS> - d 1"}]}::
::{"logs": [{"level": "INFO", "message": "<TS> - i"}]}::
::{"logs": [{"level": "TRACE", "message": "<TS> - t15"}]}::
::{"logs": [{"level": "TRACE", "message": "<TS> - between"}]}::
::{"logs": [{"level": "INFO", "message": "<TS> - multi\nline \u00e9 \u2028"}]}::
EOF
expect py_logger_levels err <<'EOF'
::{"logs": [{"level": "WARN", "message": "<TS> - w"}]}::
::{"logs": [{"level": "ERROR", "message": "<TS> - e"}]}::
::{"logs": [{"level": "ERROR", "message": "<TS> - c"}]}::
::{"logs": [{"level": "TRACE", "message": "<TS> - t45"}]}::
EOF
finish py_logger_levels "logger levels, names and streams (<= INFO stdout, >= WARNING stderr)"

run_py py_logger_object <<'EOF'
import logging
from kestra import Kestra
a = Kestra.logger()
b = Kestra.logger()
Kestra.outputs({
    "class": isinstance(a, logging.Logger),
    "name": a.name,
    "level": logging.getLevelName(a.level),
    "same": a is b and a is logging.getLogger("Kestra"),
    "handlers": len(a.handlers),
})
b.info("once")
EOF
expect py_logger_object out <<'EOF'
::{"outputs": {"class": true, "name": "Kestra", "level": "DEBUG", "same": true, "handlers": 1}}::
::{"logs": [{"level": "INFO", "message": "<TS> - once"}]}::
EOF
expect py_logger_object err </dev/null
finish py_logger_object "logger() is the cached logging.Logger 'Kestra' at DEBUG, one line per record"

run_py py_logger_basicconfig <<'EOF'
import logging
logging.basicConfig(level=logging.DEBUG)
from kestra import Kestra
Kestra.logger().info("only once")
Kestra.logger().error("bad")
EOF
expect py_logger_basicconfig out <<'EOF'
::{"logs": [{"level": "INFO", "message": "<TS> - only once"}]}::
EOF
expect py_logger_basicconfig err <<'EOF'
::{"logs": [{"level": "ERROR", "message": "<TS> - bad"}]}::
EOF
finish py_logger_basicconfig "records are not duplicated as plain text by a root handler"

run_py py_logger_exception <<'EOF'
from kestra import Kestra
try:
    1 / 0
except ZeroDivisionError:
    Kestra.logger().exception("boom")
EOF
expect py_logger_exception out </dev/null
pycheck py_logger_exception <<'EOF'
assert len(err) == 1, err
entry = err[0]["logs"][0]
assert entry["level"] == "ERROR", entry
msg = entry["message"]
assert msg[23:] .startswith("Z - boom\nTraceback (most recent call last):"), msg
assert msg.rstrip().endswith("ZeroDivisionError: division by zero"), msg
EOF
finish py_logger_exception "logger.exception keeps the traceback inside one stderr line"

run_py py_logger_time TZ=America/New_York <<'EOF'
import time
from kestra import Kestra
Kestra.outputs({"before": time.time()})
Kestra.logger().info("now")
Kestra.outputs({"after": time.time()})
EOF
pycheck py_logger_time <<'EOF'
from datetime import datetime, timezone
import re
before, after = out[0]["outputs"]["before"], out[2]["outputs"]["after"]
msg = out[1]["logs"][0]["message"]
m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z - now", msg)
assert m, msg
t = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()
assert before - 0.002 <= t <= after + 0.002, (before, t, after)
EOF
finish py_logger_time "log timestamp is UTC with milliseconds (TZ=America/New_York)"

run_py py_flush_exit <<'EOF'
import os
from kestra import Kestra
Kestra.outputs({"a": 1})
Kestra.logger().info("x")
Kestra.counter("c", 1)
Kestra.logger().error("y")
Kestra.outputs({"b": 2})
os._exit(0)
EOF
expect py_flush_exit out <<'EOF'
::{"outputs": {"a": 1}}::
::{"logs": [{"level": "INFO", "message": "<TS> - x"}]}::
::{"metrics": [{"name": "c", "type": "counter", "value": 1, "tags": {}}]}::
::{"outputs": {"b": 2}}::
EOF
expect py_flush_exit err <<'EOF'
::{"logs": [{"level": "ERROR", "message": "<TS> - y"}]}::
EOF
finish py_flush_exit "lines are flushed in order (os._exit right after, stdout to a file)"

run_py py_stream_swap <<'EOF'
import io, sys
from kestra import Kestra
log = Kestra.logger()
real, sys.stdout = sys.stdout, io.StringIO()
log.info("captured")
Kestra.outputs({"also": "captured"})
captured, sys.stdout = sys.stdout.getvalue(), real
Kestra.outputs({"lines": captured.count("\n"), "log": '"captured"' in captured})
EOF
expect py_stream_swap out <<'EOF'
::{"outputs": {"lines": 2, "log": true}}::
EOF
expect py_stream_swap err </dev/null
finish py_stream_swap "writes go to the current sys.stdout"

run_py py38_syntax <<EOF
import ast, sys
src = open("$lib/python/kestra.py").read()
ast.parse(src, feature_version=(3, 8))
EOF
expect py38_syntax out </dev/null
expect py38_syntax err </dev/null
finish py38_syntax "kestra.py parses as Python 3.8"

# ---------------------------------------------------------------- Node

run_node node_require <<'EOF'
const A = require('@kestra-io/libs');
const { Kestra } = require('@kestra-io/libs');
A.outputs({
  same: A === Kestra,
  type: typeof A,
  default: A.default === A,
  methods: ['outputs', 'counter', 'timer', 'gauge', 'assets', 'logger', 'format']
    .every((m) => typeof A[m] === 'function'),
  resolved: require.resolve('@kestra-io/libs'),
});
EOF
expect node_require out <<EOF
::{"outputs":{"same":true,"type":"function","default":true,"methods":true,"resolved":"$lib/node/@kestra-io/libs/index.js"}}::
EOF
expect node_require err </dev/null
finish node_require "require() default and { Kestra } forms resolve through NODE_PATH"

run_node node_outputs <<'EOF'
const Kestra = require('@kestra-io/libs');
Kestra.outputs({ k: 'v', n: 2, f: 1.5, b: true, z: null, l: [1, 'a'], o: { x: {} } });
Kestra.outputs({});
EOF
expect node_outputs out <<'EOF'
::{"outputs":{"k":"v","n":2,"f":1.5,"b":true,"z":null,"l":[1,"a"],"o":{"x":{}}}}::
::{"outputs":{}}::
EOF
expect node_outputs err </dev/null
finish node_outputs "outputs() writes one JSON.stringify line to stdout"

run_node node_metrics <<'EOF'
const { Kestra } = require('@kestra-io/libs');
Kestra.counter('rows', 3, { file: 'a.csv' });
Kestra.counter('rows', 1);
Kestra.gauge('temp', 21.5, { room: 'b' });
Kestra.gauge('temp', 0);
Kestra.timer('dur', 2.12, { step: 'load' });
Kestra.timer('dur', 7);
EOF
expect node_metrics out <<'EOF'
::{"metrics":[{"name":"rows","type":"counter","value":3,"tags":{"file":"a.csv"}}]}::
::{"metrics":[{"name":"rows","type":"counter","value":1,"tags":{}}]}::
::{"metrics":[{"name":"temp","type":"gauge","value":21.5,"tags":{"room":"b"}}]}::
::{"metrics":[{"name":"temp","type":"gauge","value":0,"tags":{}}]}::
::{"metrics":[{"name":"dur","type":"timer","value":2.12,"tags":{"step":"load"}}]}::
::{"metrics":[{"name":"dur","type":"timer","value":7,"tags":{}}]}::
EOF
expect node_metrics err </dev/null
finish node_metrics "counter/gauge/timer(number), tags default to {}"

run_node node_assets <<'EOF'
const Kestra = require('@kestra-io/libs');
Kestra.assets({ inputs: [{ id: 'a' }], outputs: [{ id: 'b', type: 'TABLE' }] });
EOF
expect node_assets out <<'EOF'
::{"assets":{"inputs":[{"id":"a"}],"outputs":[{"id":"b","type":"TABLE"}]}}::
EOF
expect node_assets err </dev/null
finish node_assets "assets() writes an assets line"

run_node node_format <<'EOF'
const Kestra = require('@kestra-io/libs');
const write = process.stdout.write;
let printed = 0;
process.stdout.write = function () { printed++; return true; };
const s = Kestra.format({ s: '\u00e9\u0085\u2028\u2029\u65e5\n\t"q"\\' });
process.stdout.write = write;
if (printed !== 0 || typeof s !== 'string') process.exit(3);
console.log(s);
Kestra.outputs({ '\u2028key': 'a\u2029b\u0085c' });
EOF
expect node_format out <<'EOF'
::{"s":"é\u0085\u2028\u2029日\n\t\"q\"\\"}::
::{"outputs":{"\u2028key":"a\u2029b\u0085c"}}::
EOF
expect node_format err </dev/null
finish node_format "format() returns the line, escapes U+0085/U+2028/U+2029, keeps other UTF-8"

run_node node_timer_callback <<'EOF'
const Kestra = require('@kestra-io/libs');
Kestra.timer('t', (done) => {
  setTimeout(() => {
    Kestra.outputs({ inside: true });
    done();
  }, 300);
}, { k: 'v' });
Kestra.timer('sync', (done) => done());
Kestra.outputs({ after_call: true });
EOF
pycheck node_timer_callback <<'EOF'
assert len(out) == 4 and not err, (out, err)
s = out[0]["metrics"][0]
assert s["name"] == "sync" and s["type"] == "timer" and s["tags"] == {} and 0 <= s["value"] < 0.5, s
assert out[1] == {"outputs": {"after_call": True}}, out[1]
assert out[2] == {"outputs": {"inside": True}}, out[2]
t = out[3]["metrics"][0]
assert t["name"] == "t" and t["type"] == "timer" and t["tags"] == {"k": "v"}, t
assert 0.29 <= t["value"] < 5, t["value"]
EOF
finish node_timer_callback "timer(name, done => ...) reports elapsed seconds when done() is called"

run_node node_logger <<'EOF'
const Kestra = require('@kestra-io/libs');
const log = Kestra.logger();
log.debug('d');
log.info('i');
log.warn('w');
log.error('e');
log.trace('t');
log.info('a', 'b');
log.info(42, { x: 1 }, [1, 'a'], null, true);
log.info('l1\nl2 \u2028 %s %d');
log.warn();
EOF
expect node_logger out <<'EOF'
::{"logs":[{"level":"DEBUG","message":"d"}]}::
::{"logs":[{"level":"INFO","message":"i"}]}::
::{"logs":[{"level":"INFO","message":"a"},{"level":"INFO","message":"b"}]}::
::{"logs":[{"level":"INFO","message":"42"},{"level":"INFO","message":"{ x: 1 }"},{"level":"INFO","message":"[ 1, 'a' ]"},{"level":"INFO","message":"null"},{"level":"INFO","message":"true"}]}::
::{"logs":[{"level":"INFO","message":"l1\nl2 \u2028 %s %d"}]}::
EOF
expect node_logger err <<'EOF'
::{"logs":[{"level":"WARN","message":"w"}]}::
::{"logs":[{"level":"ERROR","message":"e"}]}::
::{"logs":[{"level":"TRACE","message":"t"}]}::
::{"logs":[]}::
EOF
finish node_logger "logger levels and streams (debug/info stdout; warn/error/trace stderr, no stack)"

run_node node_logger_error <<'EOF'
const Kestra = require('@kestra-io/libs');
Kestra.logger().error(new Error('boom'));
EOF
expect node_logger_error out </dev/null
pycheck node_logger_error <<'EOF'
assert len(err) == 1 and len(err[0]["logs"]) == 1, err
e = err[0]["logs"][0]
assert e["level"] == "ERROR" and e["message"].startswith("Error: boom\n    at "), e
EOF
finish node_logger_error "an Error is logged as its stack, on one stderr line"

run_node node_flush_exit <<'EOF'
const Kestra = require('@kestra-io/libs');
Kestra.outputs({ a: 1 });
Kestra.logger().info('x');
Kestra.counter('c', 1);
Kestra.logger().error('y');
Kestra.outputs({ b: 2 });
process.exit(0);
EOF
expect node_flush_exit out <<'EOF'
::{"outputs":{"a":1}}::
::{"logs":[{"level":"INFO","message":"x"}]}::
::{"metrics":[{"name":"c","type":"counter","value":1,"tags":{}}]}::
::{"outputs":{"b":2}}::
EOF
expect node_flush_exit err <<'EOF'
::{"logs":[{"level":"ERROR","message":"y"}]}::
EOF
finish node_flush_exit "lines are written in order before process.exit()"

run_node node_package <<EOF
const pkg = require('$lib/node/@kestra-io/libs/package.json');
const Kestra = require('@kestra-io/libs');
Kestra.outputs({
  name: pkg.name,
  main: pkg.main,
  deps: Object.keys(Object.assign({}, pkg.dependencies, pkg.peerDependencies)).length,
  type: pkg.type || 'commonjs',
});
EOF
expect node_package out <<'EOF'
::{"outputs":{"name":"@kestra-io/libs","main":"index.js","deps":0,"type":"commonjs"}}::
EOF
expect node_package err </dev/null
finish node_package "package.json: @kestra-io/libs, CommonJS, no dependencies"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
