"""Starts `sonicbench serve` for a test and waits until it says where it listens: the one
definition the tests that call a served model share (standard library only, so it also runs
under a test's virtual environment)."""
import re
import subprocess
import time

# What `sonicbench serve` prints once it accepts calls (bench/cli/cmd_serve.cpp).
BANNERS = {
    "address": r"listening on (\S+:\d+)",
    "metrics": r"metrics on http://(\S+:\d+)/metrics",
}


def start_serve(sonicbench, args, wanted=("address",), timeout_s=120):
    """Runs `sonicbench serve ARGS` and returns (process, {name: value}) for each `wanted` banner
    (BANNERS) once it is printed; kills the server and raises RuntimeError with what it printed
    when it exits or takes longer than `timeout_s`."""
    server = subprocess.Popen([sonicbench, "serve", *args], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout_s
    printed, found = "", {}
    while time.monotonic() < deadline and len(found) < len(wanted):
        line = server.stdout.readline()
        if not line:
            break
        printed += line
        for name in wanted:
            match = re.search(BANNERS[name], line)
            if match and name not in found:
                found[name] = match.group(1)
    if len(found) < len(wanted):
        server.kill()
        server.wait()
        raise RuntimeError(f"sonicbench serve {' '.join(args)} did not print its "
                           f"{' and '.join(wanted)} within {timeout_s} s: {printed!r}")
    return server, found
