#!/usr/bin/env python3
"""Turns `weft bench --json` runs into the Markdown tables of docs/BENCHMARKS.md.

    for i in 1 2 3; do ./build/release/weft bench --json > run$i.json; done
    scripts/bench-table.py run1.json run2.json run3.json

For each workload it prints weft's median figure, each peer's median figure
and the median of the per-run ratios (weft / peer measured in the same run,
which is what survives the drift of a shared machine), plus the range of
those ratios, so a reader sees how much the runs disagreed.
"""
import json
import statistics
import sys


def human(ops):
    if ops >= 1e9:
        return f"{ops / 1e9:.2f} G/s"
    if ops >= 1e6:
        return f"{ops / 1e6:.2f} M/s"
    if ops >= 1e3:
        return f"{ops / 1e3:.1f} k/s"
    return f"{ops:.0f} /s"


def ratio(r):
    return f"{r:.2f}x" if r < 10 else f"{r:.1f}x" if r < 100 else f"{r:.0f}x"


def main(paths):
    if not paths:
        sys.exit("usage: bench-table.py RUN.json...")
    runs = []
    for path in paths:
        with open(path) as f:
            runs.append(json.load(f))
    names = [r["name"] for r in runs[0]["results"]]
    peers = []
    for run in runs:
        for res in run["results"]:
            for p in res["peers"]:
                if p not in peers:
                    peers.append(p)
    # The tool's column order; a peer it does not know goes last.
    order = ["Go", "oneTBB", "glibc", "GLib", "libuv", "Python"]
    peers.sort(key=lambda p: order.index(p) if p in order else len(order))

    print(f"Machine: {runs[0]['machine']}; {len(runs)} runs of `weft bench` "
          f"(best of {runs[0]['reps']} per figure, scale {runs[0]['scale']}).\n")
    print("Figures (median over the runs, operations per second):\n")
    print("| workload | weft | " + " | ".join(peers) + " |")
    print("|---|---:|" + "---:|" * len(peers))
    by_name = {n: [next(r for r in run["results"] if r["name"] == n) for run in runs] for n in names}
    for n in names:
        rows = by_name[n]
        cells = [human(statistics.median(r["weft_ops_per_s"] for r in rows))]
        for p in peers:
            figs = [r["peers"][p]["ops_per_s"] for r in rows if p in r["peers"]]
            cells.append(human(statistics.median(figs)) if figs else "-")
        print(f"| {n} | " + " | ".join(cells) + " |")

    print("\nweft / peer, median of the same-run ratios (lowest - highest):\n")
    print("| workload | " + " | ".join(peers) + " |")
    print("|---|" + "---:|" * len(peers))
    for n in names:
        rows = by_name[n]
        cells = []
        for p in peers:
            rs = [r["peers"][p]["weft_ratio"] for r in rows if p in r["peers"]]
            if rs:
                cells.append(f"{ratio(statistics.median(rs))} ({ratio(min(rs))} - {ratio(max(rs))})")
            else:
                cells.append("-")
        print(f"| {n} | " + " | ".join(cells) + " |")

    print("\nOne operation:\n")
    for n in names:
        print(f"- `{n}`: {by_name[n][0]['what']}")


if __name__ == "__main__":
    main(sys.argv[1:])
