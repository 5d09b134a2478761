#!/usr/bin/env bash
# bench/tools.sh TOOL N K: the shell tools an operator would otherwise use to
# run N copies of /bin/true, at most K at a time, timed from start to end:
#   xargs     seq N | xargs -P K -n 1 /bin/true
#   parallel  seq N | parallel --will-cite -j K /bin/true   (GNU parallel)
# Each child gets one argument (its number), which /bin/true ignores; the
# children's output goes to the tool's own stdout (no capture: that is the
# tools' way). Prints {"tool","tasks","inflight","seconds","tasks_per_s"}.
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: bench/tools.sh xargs|parallel N K" >&2
  exit 2
fi
tool=$1 n=$2 k=$3
case $tool in
  xargs) cmd=(xargs -P "$k" -n 1 /bin/true) ;;
  parallel)
    command -v parallel >/dev/null || { echo "tools.sh: GNU parallel is not installed" >&2; exit 2; }
    cmd=(parallel --will-cite -j "$k" /bin/true) ;;
  *) echo "tools.sh: unknown tool '$tool'" >&2; exit 2 ;;
esac
t0=$(date +%s%N)
seq "$n" | "${cmd[@]}" >/dev/null
t1=$(date +%s%N)
python3 -c 'import json,sys
tool, n, k, ns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = ns / 1e9
print(json.dumps({"tool": tool, "tasks": n, "inflight": k, "seconds": round(s, 6),
                  "tasks_per_s": round(n / s, 1)}))' "$tool" "$n" "$k" "$((t1 - t0))"
