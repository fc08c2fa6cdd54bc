#!/usr/bin/env bash
# The main job on a new machine: installs the Debian packages, builds the release preset, runs
# the sweep in configs/main.conf (the paper's argument: experiment jobs running ResNet-50 each on
# its own CPU against the same jobs sharing one server, 1 to 64 jobs, over loopback and the
# emulated edge and cloud links), draws the figures and the report with the paper's numbers
# beside the measured ones, and prints where they are. Usage: tools/main.sh [OUT_DIR] (default:
# out/)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out}

bash tools/setup.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)"

bin=build/release/bench/cli/sonicbench
mkdir -p "$out"
"$bin" sysinfo
# The paper's clients sent jet images: a synthetic top-tagging sample in the public dataset's layout.
"$bin" dataset generate --kind top-tagging --jets 512 --seed 1 --out "$out/jets.h5"
# The service runs the fastest backend and precision this machine has: cudnn at fp16 where a GPU
# is usable, else onednn at int8 (AMX or VNNI), bf16 or fp32, whichever its CPU has first. The
# local jobs run fp32, and also the service's precision where onednn has it.
"$bin" backends --json > "$out/backends.json"
/usr/bin/python3 - "$out/backends.json" configs/main.conf "$out/main.conf" <<'PY'
import json, re, sys
backends = {b["name"]: b for b in json.load(open(sys.argv[1]))["backends"]}
onednn = backends["onednn"]["precisions"]
if backends.get("cudnn", {}).get("available"):
    service = ("cudnn", "fp16")
else:
    service = ("onednn", next(p for p in ("int8", "bf16", "fp32") if p in onednn))
local = ["fp32"] + ([service[1]] if service[1] in onednn and service[1] != "fp32" else [])
values = {"service": {"backend": service[0], "precision": service[1]},
          "large_batch": {"backend": service[0], "precision": service[1]},
          "local": {"precision": ", ".join(local)}}
part, lines = "", []
for line in open(sys.argv[2]):
    header = re.match(r"\[sweep\.(\w+)\]", line)
    part = header.group(1) if header else part
    key = line.split("=")[0].strip()
    if "=" in line and key in values.get(part, {}):
        line = f"{key} = {values[part][key]}\n"
    lines.append(line)
open(sys.argv[3], "w").writelines(lines)
print(f"main job: the service runs {service[0]} at {service[1]}; local jobs at {', '.join(local)}")
PY
"$bin" sweep --config "$out/main.conf" --inputs "$out/jets.h5" --out "$out/main.h5"
"$bin" report "$out/main.h5" --latency-budget-ms 200
"$bin" plot "$out/main.h5" --out "$out/figures" >/dev/null

echo
echo "results: $(realpath "$out/main.h5")"
echo "figures: $(realpath "$out/figures")/"
echo "report:  $(realpath "$out/figures/report.md")"
