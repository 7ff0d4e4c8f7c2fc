#!/usr/bin/env python3
"""Prints, for every test that did not pass in the given meson build directories, its name,
result, duration and the last lines of its output (from meson-logs/testlog.json).

scripts/test.sh runs it last, so that a failure's cause is in the tail of the output: the part
of a long CI log that is shown. Usage: failed-tests.py BUILD_DIR... (exit 0 whatever it finds).
"""
import json
import os
import sys

TAIL = 40


def main(dirs):
    for d in dirs:
        path = os.path.join(d, "meson-logs", "testlog.json")
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
        except OSError:
            continue
        for line in lines:
            try:
                t = json.loads(line)
            except ValueError:
                continue
            if t.get("result") in ("OK", "SKIP", "EXPECTEDFAIL"):
                continue
            out = (t.get("stdout") or "").rstrip("\n").split("\n")
            print(f"== {d}: {t.get('name')} {t.get('result')} after {t.get('duration', 0):.1f} s"
                  f" (exit {t.get('returncode')}); its last {min(TAIL, len(out))} lines:")
            for o in out[-TAIL:]:
                print(f"   {o}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
