#!/usr/bin/env python3
"""bench/report.py TMP RESULTS_DIR: turns the JSON lines bench/run.sh kept in
TMP (one file per step, named STEP.json; round r of a step is STEP_r<r>) into
the figures: prints `bench: NAME VALUE UNIT` for each, writes
RESULTS_DIR/latest.json (figures with median, min..max and every round, the
goals and whether each is met, the machine, every step's JSON line) and
draws RESULTS_DIR/dispatch.png (tasks/s against tasks in flight) with
gnuplot. Figures of sections that did not run are left out."""

import datetime
import glob
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys

TMP, OUT = sys.argv[1], sys.argv[2]

steps = {}
for path in glob.glob(os.path.join(TMP, "*.json")):
    name = os.path.basename(path)[:-5]
    try:
        with open(path) as f:
            steps[name] = json.load(f)
    except (OSError, ValueError):
        pass


def rounds(base):
    """{round: json} of the steps named base_r<round>."""
    out = {}
    for name, doc in steps.items():
        m = re.fullmatch(re.escape(base) + r"_r(\d+)", name)
        if m:
            out[int(m.group(1))] = doc
    return out


results = {}


def put(name, values, unit, digits=3):
    values = [v for v in values if v is not None]
    if not values:
        return
    results[name] = {
        "value": round(statistics.median(values), digits),
        "unit": unit,
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "rounds": [round(v, digits) for v in values],
    }


def field(base, key):
    return [doc.get(key) for _, doc in sorted(rounds(base).items())]


def ratio(num, den, key="tasks_per_s"):
    """Per-round ratios of two steps measured in the same round."""
    a, b = rounds(num), rounds(den)
    return [a[r][key] / b[r][key] for r in sorted(a) if r in b and b[r].get(key)]


# Dispatch: /bin/true, N tasks.
put("raw_spawn_tasks_s", field("raw64", "tasks_per_s"), "tasks/s", 1)
put("process_dispatch_tasks_s", field("agent64", "tasks_per_s"), "tasks/s", 1)
put("process_dispatch_ratio", ratio("agent64", "raw64"), "ratio")
put("process_dispatch_tasks_s_16_clients", field("agent64c16", "tasks_per_s"), "tasks/s", 1)
put("process_dispatch_ratio_16_clients", ratio("agent64c16", "raw64"), "ratio")
put("raw_spawn_tasks_s_512", field("raw512", "tasks_per_s"), "tasks/s", 1)
put("process_dispatch_tasks_s_512", field("agent512", "tasks_per_s"), "tasks/s", 1)
put("process_dispatch_ratio_512", ratio("agent512", "raw512"), "ratio")
put("xargs_tasks_s", field("xargs64", "tasks_per_s"), "tasks/s", 1)
put("parallel_tasks_s", field("parallel64", "tasks_per_s"), "tasks/s", 1)
put("process_vs_xargs", ratio("agent64", "xargs64"), "ratio")
put("process_vs_parallel", ratio("agent64", "parallel64"), "ratio")
put("agent_cpu_us_per_task", field("agent64", "agent_cpu_us_per_task"), "us", 1)
put("raw_parent_cpu_us_per_task", field("raw64", "parent_cpu_us_per_task"), "us", 1)

# Next to 2,000 running tasks.
put("process_dispatch_ratio_2000_running", ratio("agent2000", "raw2000"), "ratio")
put("process_dispatch_2000_running_vs_idle", ratio("agent2000", "agentidle"), "ratio")
put("raw_spawn_2000_running_vs_idle", ratio("raw2000", "rawidle"), "ratio")

# With the agent holding >= 256 MiB.
put("process_dispatch_ratio_256m", ratio("agent256m", "rawsmall"), "ratio")
put("process_dispatch_256m_vs_raw_256m", ratio("agent256m", "raw256m"), "ratio")
put("ballast_agent_rss_mib", field("agent256m", "agent_rss_mib"), "MiB", 1)

# One task at a time.
for key in ("submit_to_running", "submit_to_result"):
    for q in ("p50", "p99"):
        put("latency_%s_%s_ms" % (key, q), field("latency", "%s_%s_ms" % (key, q)), "ms")
for q in ("p50", "p99"):
    put("latency_exit_to_result_%s_ms" % q, field("latencystamp", "exit_to_result_%s_ms" % q), "ms")
    put("raw_spawn_to_reap_%s_ms" % q, field("rawlatency", "latency_%s_ms" % q), "ms")
a, b = rounds("latency"), rounds("rawlatency")
put("latency_p50_vs_raw", [a[r]["submit_to_result_p50_ms"] / b[r]["latency_p50_ms"]
                           for r in a if r in b], "ratio")

# Thousands of sleeping tasks.
sc = steps.get("scale")
if sc:
    for key, unit in (("tasks", "tasks"), ("all_running_s", "s"), ("pss_per_task_kib", "KiB"),
                      ("fds_per_task", "fds"), ("loop_lag_p50_ms", "ms"), ("loop_lag_p99_ms", "ms"),
                      ("exit_to_result_p50_ms", "ms"), ("exit_to_result_p99_ms", "ms")):
        put("scale_" + key, [sc.get(key)], unit)

fl = steps.get("follow_latency")
if fl:
    put("log_follow_latency_p50_ms", [fl.get("p50_ms")], "ms")
    put("log_follow_latency_p99_ms", [fl.get("p99_ms")], "ms")

# The sub-scripts' figures, already in this shape.
sub = {}
for part in ("logs", "docker"):
    try:
        with open(os.path.join(TMP, part + ".json")) as f:
            sub[part] = json.load(f)
        results.update(sub[part].get("results", {}))
    except (OSError, ValueError):
        pass

GOALS = {
    "process_dispatch_ratio": (">=", 0.9),
    "process_dispatch_ratio_2000_running": (">=", 0.85),
    "process_dispatch_ratio_256m": (">=", 0.8),
    "process_vs_parallel": (">=", 7),
    "latency_submit_to_result_p50_ms": ("<", 1.25),
    "scale_pss_per_task_kib": ("<=", 8),
    "scale_loop_lag_p99_ms": ("<", 10),
    "log_ingest_ratio": (">=", 0.8),
    "log_ingest_ratio_100": (">=", 0.8),
    "docker_dispatch_ratio_8": (">=", 0.9),
    "docker_dispatch_ratio_32": (">=", 0.9),
    "docker_dispatch_ratio_64": (">=", 0.9),
}
goals = {}
for name, (op, target) in GOALS.items():
    r = results.get(name)
    if r is None:
        continue
    v = r["value"]
    met = {">=": v >= target, "<": v < target, "<=": v <= target}[op]
    goals[name] = {"goal": "%s %s" % (op, target), "value": v, "met": met}

for name, r in results.items():
    print("bench: %s %s %s" % (name, r["value"], r["unit"]), flush=True)
for name, g in goals.items():
    print("goal: %s %s (%s) %s" % (name, g["value"], g["goal"], "met" if g["met"] else "MISSED"),
          file=sys.stderr)


def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def deb_version(pkg):
    return run(["dpkg-query", "-W", "-f=${Version}", pkg]) or None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def mem_total_mib():
    with open("/proc/meminfo") as f:
        return int(f.readline().split()[1]) // 1024


machine = {
    "nproc": os.cpu_count(), "cpu": cpu_model(), "mem_total_mib": mem_total_mib(),
    "kernel": platform.release(), "arch": platform.machine(),
    "libraries": {p: deb_version(p) for p in ("libc6", "libuv1", "libzstd1", "libsqlite3-0",
                                              "libcurl4", "libsimdjson14", "libyaml-cpp0.7",
                                              "libarchive13")},
    "tools": {"parallel": (run(["parallel", "--version"]) or "").split("\n")[0] or None,
              "xargs": (run(["xargs", "--version"]) or "").split("\n")[0] or None,
              "podman": run(["podman", "--version"]), "python3": platform.python_version()},
    "rlimit_nofile": run(["sh", "-c", "ulimit -Hn"]),
}

failed = [x for x in os.environ.get("FAILED_LIST", "").split("\n") if x]
for part, doc in sub.items():
    failed += ["%s: %s" % (part, x) for x in doc.get("failed_steps", [])]
doc = {
    "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "commit": run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse", "HEAD"]),
    "machine": machine,
    "params": {k: os.environ.get(k) for k in ("SECTIONS", "ROUNDS", "N", "SWEEP_N", "SWEEP_LEVELS",
                                                "SCALE_TASKS", "LOG_BYTES")},
    "ok": not failed,
    "failed_steps": failed,
    "goals": goals,
    "results": results,
    "steps": steps,
    "sub": {k: {kk: vv for kk, vv in v.items() if kk != "results"} for k, v in sub.items()},
}
os.makedirs(OUT, exist_ok=True)
tmp = os.path.join(OUT, "latest.json.tmp")
with open(tmp, "w") as f:
    json.dump(doc, f, indent=1, sort_keys=False)
    f.write("\n")
os.replace(tmp, os.path.join(OUT, "latest.json"))

# The plot: tasks/s against tasks in flight, one line per tool.
tools = ("raw", "runnerd", "xargs", "parallel")
levels = sorted({int(m.group(1)) for n in steps for m in [re.fullmatch(r"sweep_\w+?_(\d+)", n)] if m})
if levels:
    dat = os.path.join(OUT, "dispatch.dat")
    with open(dat, "w") as f:
        f.write("# in_flight " + " ".join(tools) + "  (tasks/s; bench/run.sh sweep)\n")
        for k in levels:
            row = [str(steps.get("sweep_%s_%d" % (t, k), {}).get("tasks_per_s", "NaN")) for t in tools]
            f.write("%d %s\n" % (k, " ".join(row)))
    if shutil.which("gnuplot"):
        labels = {"raw": "raw posix\\_spawn + pipes (C)", "runnerd": "runnerd (socket, Process runner)",
                  "xargs": "xargs -P", "parallel": "GNU parallel"}
        plots = ", ".join("'%s' using 1:%d with linespoints title '%s'" % (dat, i + 2, labels[t])
                          for i, t in enumerate(tools))
        script = """set terminal pngcairo size 900,560 font ',10'
set output '%s'
set title "/bin/true tasks per second against tasks in flight (%s cores, %s)"
set xlabel 'tasks in flight'
set ylabel 'tasks/s'
set logscale x 2
set grid
set key top left
plot %s
""" % (os.path.join(OUT, "dispatch.png"), os.cpu_count(), platform.release(), plots)
        r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if r.returncode != 0:
            print("report: gnuplot failed: %s" % r.stderr.strip(), file=sys.stderr)
            sys.exit(1)
    else:
        print("report: gnuplot is not installed: no plot", file=sys.stderr)
