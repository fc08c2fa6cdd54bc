#!/usr/bin/env bash
# The main job on a new machine: installs the Debian packages, builds the release preset, trains
# the top tagger, runs the sweep in configs/main.conf (the paper's argument: experiment jobs
# running ResNet-50 each on its own CPU against the same jobs sharing one server, 1 to 64 jobs,
# over loopback and the emulated edge and cloud links; and the tagger's AUC and background
# rejection at each precision), draws the figures and the report with the paper's numbers and
# claims beside the measured ones, and prints where they are. Usage: tools/main.sh [OUT_DIR] (default:
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
# The paper's second claim needs a trained tagger: jet_cnn on 20000 synthetic jets, seeded
# (models/train_jet_tagger.py: about 2 minutes on 2 cores).
/usr/bin/python3 models/train_jet_tagger.py --sonicbench "$bin" --out "$out/tagger" \
  --threads "$(nproc)"
# The service runs the fastest backend and precision this machine has: cudnn at fp16 where a GPU
# is usable, else onednn at int8 (AMX or VNNI), bf16 or fp32, whatever its CPU has first. The
# local jobs run fp32, and also the service's precision where onednn has it; the tagger runs at
# every precision onednn has, and at bfp8 on opencl where it runs. Paths under out/ go to OUT_DIR.
"$bin" backends --json > "$out/backends.json"
/usr/bin/python3 - "$out/backends.json" configs/main.conf "$out/main.conf" "$out" <<'PY'
import json, re, sys
backends = {b["name"]: b for b in json.load(open(sys.argv[1]))["backends"]}
onednn = backends["onednn"]["precisions"]
if backends.get("cudnn", {}).get("available"):
    service = ("cudnn", "fp16")
else:
    service = ("onednn", next(p for p in ("int8", "bf16", "fp32") if p in onednn))
local = ["fp32"] + ([service[1]] if service[1] in onednn and service[1] != "fp32" else [])
tagger = [p for p in ("fp32", "bf16", "int8") if p in onednn]
opencl = backends.get("opencl", {})
fpga = [p for p in ("fp32", "bfp8") if p in opencl.get("precisions", [])]
dropped = set() if opencl.get("available") and "bfp8" in fpga else {"tagger_fpga"}
service_keys = {"backend": service[0], "precision": service[1]}
values = {"service": service_keys, "large_batch": service_keys, "tagger_service": service_keys,
          "local": {"precision": ", ".join(local)},
          "tagger": {"precision": ", ".join(tagger)},
          "tagger_fpga": {"precision": ", ".join(fpga)}}
part, lines = "", []
for line in open(sys.argv[2]):
    header = re.match(r"\[sweep\.(\w+)\]", line)
    part = header.group(1) if header else part
    if part in dropped:
        continue
    key = line.split("=")[0].strip()
    if "=" in line and key in values.get(part, {}):
        line = f"{key} = {values[part][key]}\n"
    if "=" in line and not line.lstrip().startswith("#"):
        line = re.sub(r"(=\s*)out/", lambda m: m.group(1) + sys.argv[4].rstrip("/") + "/", line)
    lines.append(line)
open(sys.argv[3], "w").writelines(lines)
print(f"main job: the service runs {service[0]} at {service[1]}; local jobs at {', '.join(local)}; "
      f"the tagger at {', '.join(tagger)} on onednn"
      + ("" if dropped else f" and {', '.join(fpga)} on opencl"))
PY
"$bin" sweep --config "$out/main.conf" --out "$out/main.h5"
"$bin" report "$out/main.h5" --latency-budget-ms 200
"$bin" plot "$out/main.h5" --out "$out/figures" >/dev/null

echo
echo "results: $(realpath "$out/main.h5")"
echo "figures: $(realpath "$out/figures")/"
echo "report:  $(realpath "$out/figures/report.md")"
