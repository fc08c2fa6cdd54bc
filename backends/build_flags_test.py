"""docs/ARCHITECTURE.md: only backends/registry.cpp sees the SONIC_HAVE_<NAME> definitions.

Usage: build_flags_test.py SOURCE_DIR

Fails naming every other C++ file that tests one (it would compile differently per build) and
every CMakeLists.txt other than backends/ that sets one on a target.
"""

import pathlib
import re
import sys

ALLOWED_SOURCE = "backends/registry.cpp"
ALLOWED_CMAKE = "backends/CMakeLists.txt"
SKIPPED = {"build", ".git"}


def files(root, patterns):
    for pattern in patterns:
        for path in root.rglob(pattern):
            relative = path.relative_to(root)
            if not SKIPPED.intersection(relative.parts):
                yield relative.as_posix(), path


def main():
    root = pathlib.Path(sys.argv[1])
    wrong = []
    for name, path in files(root, ["*.cpp", "*.h", "*.cu"]):
        if name != ALLOWED_SOURCE and "SONIC_HAVE_" in path.read_text(errors="replace"):
            wrong.append(f"{name} uses a SONIC_HAVE_ definition")
    definition = re.compile(r"target_compile_definitions\([^)]*SONIC_HAVE_", re.S)
    for name, path in files(root, ["CMakeLists.txt"]):
        if name != ALLOWED_CMAKE and definition.search(path.read_text(errors="replace")):
            wrong.append(f"{name} sets a SONIC_HAVE_ definition on a target")
    if wrong:
        sys.exit("only backends/registry.cpp may see SONIC_HAVE_ (docs/ARCHITECTURE.md):\n  " +
                 "\n  ".join(wrong))
    print("SONIC_HAVE_ definitions: only backends/registry.cpp")


if __name__ == "__main__":
    main()
