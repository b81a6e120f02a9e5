#!/usr/bin/env python3
"""When each test of a `ctest -j N` run started and ended, rebuilt from its console log.

ctest prints "Start N: name" when a test starts and "k/M Test #N: name ... Passed X sec" when it
ends, in the order they happen, without clock times. Each start is at the end time of the latest
test that ended before it (or 0), each end at its start plus its own duration. Used to find the
critical path of scripts/test.sh (HACKING.md "Timings").

  scripts/dev/ctest_timeline.py LOG [MARK]   (MARK: a line of LOG after which the run starts;
                                              default: the first "Start" line)
Prints "start end seconds name" per test, sorted by start, then the last end.
"""
import re
import sys


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) >= 2 else 2
    lines = open(sys.argv[1], encoding="utf-8", errors="replace").read().split("\n")
    first = 0
    if len(sys.argv) > 2:
        marks = [k for k, line in enumerate(lines) if sys.argv[2] in line]
        if not marks:
            print(f"{sys.argv[1]}: no line contains {sys.argv[2]!r}", file=sys.stderr)
            return 1
        first = marks[0]
    now, started, rows = 0.0, {}, []
    for line in lines[first:]:
        m = re.match(r"\s+Start\s+(\d+): (\S+)", line)
        if m:
            started[m.group(1)] = now
            continue
        m = re.match(r"\s*\d+/\d+ Test\s+#(\d+): (\S+) .*?([\d.]+) sec", line)
        if m and m.group(1) in started:
            end = started[m.group(1)] + float(m.group(3))
            now = max(now, end)
            rows.append((started[m.group(1)], end, m.group(2)))
        if "Total Test time" in line and rows:
            break
    if not rows:
        print(f"{sys.argv[1]}: no ctest run found", file=sys.stderr)
        return 1
    for start, end, name in sorted(rows):
        print(f"{start:7.1f} {end:7.1f} {end - start:6.1f} {name}")
    print(f"last end {max(end for _, end, _ in rows):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
