# Sourced by the benchmark scripts: `timed CMD...` runs one timed process, at niceness
# $niceness (0: as it is). Linux shares CPU time between sessions' autogroups before niceness
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
