# Sourced by the benchmark scripts (bench/peers/*.sh, bench/service/*.sh).
#
# `timed CMD...` runs one timed process, at niceness $niceness (0: as it is). Linux shares CPU time between sessions' autogroups before niceness
# counts (sched(7)), so a plain `nice` would give the benchmark no more of the cores than any
# other session's compile gets: the process gets a session, and so an autogroup, of its own at
# that niceness. Without autogroups, plain nice does the same.
timed() {
  if [[ ${niceness:-0} == 0 ]]; then
    "$@"
  elif [[ -w /proc/self/autogroup ]]; then
    setsid --wait bash -c 'echo "$0" > /proc/self/autogroup && exec "$@"' "$niceness" "$@"
  else
    nice -n "$niceness" "$@"
  fi
}

# `usage SCRIPT LAST_LINE [STATUS]` prints the script's header comment (lines 2 to LAST_LINE)
# and exits with STATUS (0).
usage() { sed -n "2,${2}p" "$1" | sed 's/^# \{0,1\}//'; exit "${3:-0}"; }

# `need_executable PATH WHAT FLAG` exits 2, saying how to fix it, unless PATH is executable.
need_executable() {
  [[ -x $1 ]] && return
  echo "$(basename "$0"): no $2 at $1 (build it, or pass $3 PATH)" >&2
  exit 2
}

# `model_input_shape MODEL` prints the batch-1 input shape perf_analyzer's --shape takes for a
# built-in model (1,C,H,W); exits 2 for a model it does not know.
model_input_shape() {
  case $1 in
    jet_cnn) echo 1,1,40,40 ;;
    resnet50|resnet18) echo 1,3,224,224 ;;
    *) echo "$(basename "$0"): no input shape known for model '$1'" >&2; exit 2 ;;
  esac
}

# `wait_for_log FILE REGEX` prints the third word of the first line of FILE matching REGEX (a
# server's "listening on HOST:PORT"), waiting up to 60 s for it; prints nothing if none came.
wait_for_log() {
  local found
  for _ in $(seq 600); do
    found=$(grep -oE "$2" "$1" | head -1 | awk '{print $3}') || true
    [[ -n $found ]] && { echo "$found"; return; }
    sleep 0.1
  done
}
