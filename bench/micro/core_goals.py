#!/usr/bin/python3
"""Issue 2's speed goals for the onednn backend, measured in one run on this machine.

Runs `sonicbench sysinfo --json`, then ROUNDS rounds of `backend_benchmark` (each: fp32, bf16 and
int8 at batch 1 and 16 with the default algorithms, then fp32 with `--backend-options=conv=direct`),
alternating so that the machine's drift falls on every configuration alike, then `sysinfo`
again. Prints one Markdown table with the median over rounds of each configuration's median,
its share of the measured peak of its own precision (the one `sysinfo` names for it: AMX where
measured), the ratios to fp32 (the median of the per-round ratios, with their range) and a
verdict per goal, with the bound the measured peaks put on each ratio:

- fp32 batch 16 at >= 85% of the fp32 FMA peak; fp32 batch-1 latency <= 30 ms;
- bf16 >= 2x and int8 >= 3.5x the fp32 throughput at batch 16.

Every raw output is kept in OUT (sysinfo_before.json, round1_default.json, ...), and
`--analyse OUT` prints the table again from them. Exit status 0 after a complete run, 1 when a
command failed, 2 on a usage error, and with `--check` 3 when a goal is not met (for nightly use).

Usage:
  core_goals.py --benchmark build/release/bench/micro/backend_benchmark \\
                --sonicbench build/release/bench/cli/sonicbench [--out out/core_goals] \\
                [--rounds 3] [--threads 2] [--model resnet50] [--repetitions 3] [--min-time 1]
  core_goals.py --analyse out/core_goals [--check]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

PRECISIONS = ("fp32", "bf16", "int8")
BATCHES = (1, 16)
FP32_SHARE_GOAL = 0.85
BATCH1_MS_GOAL = 30.0
RATIO_GOALS = {"bf16": 2.0, "int8": 3.5}
SELECTORS = {"default": "", "direct": "conv=direct"}


def run_rounds(args):
    os.makedirs(args.out, exist_ok=True)

    def sysinfo(name):
        result = subprocess.run([args.sonicbench, "sysinfo", "--json"], check=True,
                                capture_output=True, text=True)
        with open(os.path.join(args.out, name), "w") as f:
            f.write(result.stdout)

    sysinfo("sysinfo_before.json")
    for r in range(1, args.rounds + 1):
        for selector, device in SELECTORS.items():
            precisions = "|".join(PRECISIONS) if selector == "default" else "fp32"
            command = [args.benchmark, f"--threads={args.threads}",
                       f"--benchmark_filter=onednn/{args.model}/({precisions})/"
                       f"batch:({'|'.join(map(str, BATCHES))})/",
                       f"--benchmark_repetitions={args.repetitions}",
                       f"--benchmark_min_time={args.min_time}",
                       "--benchmark_report_aggregates_only=true", "--benchmark_format=json",
                       f"--benchmark_out={os.path.join(args.out, f'round{r}_{selector}.json')}",
                       "--benchmark_out_format=json"]
            if device:
                command.append(f"--backend-options={device}")
            print(f"core_goals: round {r} of {args.rounds}, {selector}", file=sys.stderr,
                  flush=True)
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    sysinfo("sysinfo_after.json")


def load_json(path):
    with open(path) as f:
        return json.load(f)


def share_peaks(path):
    """{precision: (kernel, rate)} from a `sonicbench sysinfo --json` file: the peak each
    precision's share of peak is read against, as sysinfo chose it (`peaks.share_peaks`, from
    core/sysinfo.h's PeakForShare), so that the choice is made in one place. Precisions without a
    measured peak are left out."""
    peaks = load_json(path).get("peaks") or {}
    if peaks and "share_peaks" not in peaks:
        raise ValueError(f"{path} has no peaks.share_peaks: it was written by a sonicbench older "
                         "than the per-precision peaks; run the rounds again")
    return {precision: (chosen["kernel"], chosen["rate"])
            for precision, chosen in peaks.get("share_peaks", {}).items() if chosen["rate"] > 0}


def read_round(path):
    """{(precision, batch): (ms per run, img/s, GFLOP/s)} from one backend_benchmark JSON file:
    the median over repetitions, or the one run when there was a single repetition."""
    rows = {}
    for bench in load_json(path)["benchmarks"]:
        median = bench.get("aggregate_name") == "median"
        if bench.get("error_occurred") or not (median or bench.get("run_type") == "iteration"):
            continue
        _, _, precision, batch = bench["run_name"].split("/")[:4]
        key = (precision, int(batch.split(":")[1]))
        if key in rows and not median:
            continue
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[bench["time_unit"]]
        rows[key] = (bench["real_time"] * scale, bench["items_per_second"], bench["GFLOP/s"])
    return rows


def analyse(out):
    """The goals' figures from the files of a run in `out`, as a dict (also written as JSON)."""
    rounds = []
    r = 1
    while os.path.exists(os.path.join(out, f"round{r}_default.json")):
        rounds.append({selector: read_round(os.path.join(out, f"round{r}_{selector}.json"))
                       for selector in SELECTORS})
        r += 1
    if not rounds:
        raise FileNotFoundError(f"{out} holds no round1_default.json: run the benchmarks first")
    peaks, peak_kernels = {}, {}
    for name in ("sysinfo_before.json", "sysinfo_after.json"):
        for precision, (kernel, rate) in share_peaks(os.path.join(out, name)).items():
            # The kernel of the first file: a peak of another unit (an AMX measurement that
            # failed once) is not averaged in.
            if peak_kernels.setdefault(precision, kernel) == kernel:
                peaks.setdefault(precision, []).append(rate)
    cpu = load_json(os.path.join(out, "sysinfo_before.json"))["cpu"]["model_name"]

    configs = {}
    for selector in SELECTORS:
        for precision in PRECISIONS:
            for batch in BATCHES:
                per_round = [rd[selector][(precision, batch)] for rd in rounds
                             if (precision, batch) in rd[selector]]
                if len(per_round) != len(rounds):
                    continue
                configs[f"{precision}/{selector}/batch:{batch}"] = {
                    "precision": precision, "selector": selector, "batch": batch,
                    "ms_per_round": [row[0] for row in per_round],
                    "ms": statistics.median(row[0] for row in per_round),
                    "img_s": statistics.median(row[1] for row in per_round),
                    "gflops": statistics.median(row[2] for row in per_round)}

    def ratio(precision, selector):
        """Per-round ratio of `precision` (default algorithms) to fp32 `selector`, batch 16."""
        values = []
        for rd in rounds:
            num, den = rd["default"].get((precision, 16)), rd[selector].get(("fp32", 16))
            if num and den:
                values.append(num[1] / den[1])
        if len(values) != len(rounds):
            return None
        return {"median": statistics.median(values), "min": min(values), "max": max(values),
                "per_round": values}

    peak = {p: statistics.mean(v) for p, v in peaks.items()}
    fp32 = configs.get("fp32/default/batch:16")
    summary = {"cpu": cpu, "rounds": len(rounds), "peaks": peaks, "peak_kernels": peak_kernels,
               "configs": configs, "ratios": {}, "goals": []}
    for config in configs.values():
        if config["precision"] in peak:
            config["share_of_peak"] = config["gflops"] / peak[config["precision"]]
            config["peak_kernel"] = peak_kernels[config["precision"]]
    if fp32 and "fp32" in peak:
        summary["goals"].append({
            "goal": "fp32 batch 16 >= 85% of the fp32 peak", "value": fp32["share_of_peak"],
            "shown": f"{100 * fp32['share_of_peak']:.1f}%",
            "met": fp32["share_of_peak"] >= FP32_SHARE_GOAL})
    fp32_b1 = configs.get("fp32/default/batch:1")
    if fp32_b1:
        summary["goals"].append({"goal": "fp32 batch-1 latency <= 30 ms", "value": fp32_b1["ms"],
                                 "shown": f"{fp32_b1['ms']:.3g} ms",
                                 "met": fp32_b1["ms"] <= BATCH1_MS_GOAL})
    for precision, goal in RATIO_GOALS.items():
        for selector in SELECTORS:
            value = ratio(precision, selector)
            if value is not None:
                summary["ratios"][f"{precision}/{selector}"] = value
        value = summary["ratios"].get(f"{precision}/default")
        if value is None:
            continue
        entry = {"goal": f"{precision} batch 16 >= {goal}x fp32", "value": value["median"],
                 "shown": f"{value['median']:.2f}x ({value['min']:.2f}-{value['max']:.2f})",
                 "met": value["median"] >= goal}
        # At 100% of its own measured peak, against fp32 as it runs: what this CPU allows.
        if precision in peak and fp32:
            entry["bound"] = peak[precision] / fp32["gflops"]
            entry["bound_kernel"] = peak_kernels[precision]
        summary["goals"].append(entry)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


def print_table(summary):
    peaks = summary["peaks"]
    kernels = summary["peak_kernels"]
    print(f"onednn, {summary['cpu']}; {summary['rounds']} rounds; measured peaks (before, after): "
          + "; ".join(f"{p} {kernels[p]} {', '.join(f'{v:.1f}' for v in values)}"
                      for p, values in peaks.items()))
    print()
    print("| configuration | batch | ms per run, each round | median img/s | GFLOP/s "
          "| share of its peak | x fp32, per round | x fp32 conv=direct, per round |")
    print("|---|---|---|---|---|---|---|---|")
    for config in summary["configs"].values():
        name = config["precision"] + (" conv=direct" if config["selector"] == "direct" else "")
        share = (f"{100 * config['share_of_peak']:.1f}% of {config['peak_kernel']}"
                 if "share_of_peak" in config else "")
        cells = ["", ""]
        if config["batch"] == 16 and config["selector"] == "default":
            for i, selector in enumerate(SELECTORS):
                value = summary["ratios"].get(f"{config['precision']}/{selector}")
                if value:
                    cells[i] = ", ".join(f"{v:.2f}" for v in value["per_round"])
        print(f"| {name} | {config['batch']} | "
              f"{', '.join(f'{ms:.3g}' for ms in config['ms_per_round'])} | "
              f"{config['img_s']:.2f} | {config['gflops']:.0f} | {share} | {cells[0]} | {cells[1]} |")
    print()
    for goal in summary["goals"]:
        bound = (f" (at most {goal['bound']:.2f} at 100% of its {goal['bound_kernel']} peak)"
                 if "bound" in goal else "")
        print(f"- {goal['goal']}: {goal['shown']}: {'met' if goal['met'] else 'NOT met'}"
              f"{bound}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--benchmark", help="the backend_benchmark executable")
    parser.add_argument("--sonicbench", help="the sonicbench executable (for sysinfo)")
    parser.add_argument("--out", default="out/core_goals", help="folder for the raw outputs")
    parser.add_argument("--analyse", metavar="OUT", help="only print the table of a finished run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=1.0)
    parser.add_argument("--check", action="store_true", help="exit 3 when a goal is not met")
    args = parser.parse_args()
    if args.analyse:
        out = args.analyse
    else:
        if not args.benchmark or not args.sonicbench:
            parser.error("--benchmark and --sonicbench are required unless --analyse is given")
        if args.rounds < 1:
            parser.error(f"--rounds {args.rounds}: expected at least 1")
        out = args.out
        try:
            run_rounds(args)
        except (subprocess.CalledProcessError, OSError) as error:
            print(f"core_goals: {error}", file=sys.stderr)
            return 1
    try:
        summary = analyse(out)
    except (OSError, KeyError, ValueError) as error:
        print(f"core_goals: {out}: {error}", file=sys.stderr)
        return 1
    print_table(summary)
    if args.check and not all(goal["met"] for goal in summary["goals"]):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
