#!/usr/bin/env python3
"""Summaries of the Nsight Compute CSVs that deploy/gpu/check.sh's kernel-profile stage writes.

  ncu_summary.py step CSV     per kernel name: launches, total and mean time, DRAM read/write and GB/s
  ncu_summary.py detail CSV   per profiled launch: time, DRAM and tensor-pipe use, occupancy, the top warp stalls

CSV: `ncu --import R --csv --page raw` (row 0 metric names, row 1 units, then one row per launch). Units are read
from row 1 (ncu scales them per column unless --print-units base), so "us" and "ns", "Kbyte" and "byte" both work.
A metric the CSV lacks prints as "-": this never fails the check.
"""
import csv
import sys
from collections import OrderedDict

SCALE = {"ns": 1e-9, "nsecond": 1e-9, "us": 1e-6, "usecond": 1e-6, "ms": 1e-3, "msecond": 1e-3, "s": 1.0, "second": 1.0,
         "byte": 1.0, "Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9, "KB": 1e3, "MB": 1e6, "GB": 1e9,
         "KiB": 1024.0, "MiB": 1024.0 ** 2, "GiB": 1024.0 ** 3}


class Table:
    def __init__(self, path):
        rows = list(csv.reader(open(path, newline="")))
        start = next((i for i, r in enumerate(rows) if "Kernel Name" in r), None)
        if start is None:
            raise SystemExit(f"{path}: no 'Kernel Name' column (not an ncu raw CSV?)")
        self.head = rows[start]
        self.units = rows[start + 1] if start + 1 < len(rows) else []
        self.rows = [r for r in rows[start + 2:] if len(r) == len(self.head)]

    def column(self, *names):
        """Index of the first column whose name is one of names (exact), else None."""
        for n in names:
            if n in self.head:
                return self.head.index(n)
        return None

    def value(self, row, col):
        """The cell in base units (seconds, bytes; percentages and ratios as they are), or None."""
        if col is None:
            return None
        try:
            v = float(row[col].replace(",", ""))
        except (ValueError, IndexError):
            return None
        unit = self.units[col] if col < len(self.units) else ""
        return v * SCALE.get(unit, 1.0)

    def kernel(self, row):
        return row[self.head.index("Kernel Name")].split("(")[0]


def fmt(v, spec):
    """v formatted by spec, or "-" right-aligned to the spec's width when missing."""
    return format(v, spec) if v is not None else "-".rjust(int(spec.split(".")[0].rstrip("fd") or 0))


def step(path):
    t = Table(path)
    time = t.column("gpu__time_duration.sum")
    rd = t.column("dram__bytes_read.sum")
    wr = t.column("dram__bytes_write.sum")
    per = OrderedDict()
    for r in t.rows:
        s = t.value(r, time)
        if s is None:
            continue
        k = t.kernel(r)
        n, ts, rs, ws = per.get(k, (0, 0.0, None, None))
        b, w = t.value(r, rd), t.value(r, wr)
        per[k] = (n + 1, ts + s, None if b is None else (rs or 0.0) + b, None if w is None else (ws or 0.0) + w)
    total = sum(v[1] for v in per.values())
    launches = sum(v[0] for v in per.values())
    print(f"{launches} launches, {total * 1e3:.3f} ms of kernel time (caches flushed before each kernel)")
    print(f"{'total us':>10} {'launches':>8} {'mean us':>9} {'read MB':>9} {'write MB':>9} {'read GB/s':>10}  kernel")
    for k, (n, s, b, w) in sorted(per.items(), key=lambda kv: -kv[1][1]):
        gbs = None if b is None or s <= 0 else b / s / 1e9
        print(f"{s * 1e6:10.1f} {n:8d} {s * 1e6 / n:9.2f} {fmt(None if b is None else b / 1e6, '9.2f')} "
              f"{fmt(None if w is None else w / 1e6, '9.2f')} {fmt(gbs, '10.0f')}  {k}")


STALL_PREFIX = "smsp__average_warps_issue_stalled_"
STALL_SUFFIX = "_per_issue_active.ratio"


def detail(path):
    t = Table(path)
    cols = {
        "us": t.column("gpu__time_duration.sum"),
        "dram%": t.column("dram__throughput.avg.pct_of_peak_sustained_elapsed",
                          "gpu__dram_throughput.avg.pct_of_peak_sustained_elapsed"),
        "mem%": t.column("gpu__compute_memory_throughput.avg.pct_of_peak_sustained_elapsed"),
        "sm%": t.column("sm__throughput.avg.pct_of_peak_sustained_elapsed"),
        "tensor%": t.column("sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active",
                            "sm__inst_executed_pipe_tensor_op_hmma.avg.pct_of_peak_sustained_active",
                            "sm__pipe_tensor_cycles_active.avg.pct_of_peak_sustained_active"),
        "issue%": t.column("sm__inst_issued.avg.pct_of_peak_sustained_active",
                           "smsp__issue_active.avg.pct_of_peak_sustained_active"),
        "occ%": t.column("sm__warps_active.avg.pct_of_peak_sustained_active"),
        "regs": t.column("launch__registers_per_thread"),
        "cyc/inst": t.column("smsp__average_warp_latency_per_inst_issued.ratio",
                             "smsp__warps_issue_stalled_per_issue_active.ratio"),
    }
    stalls = [(i, h[len(STALL_PREFIX):-len(STALL_SUFFIX)]) for i, h in enumerate(t.head)
              if h.startswith(STALL_PREFIX) and h.endswith(STALL_SUFFIX) and "not_issued" not in h]
    print("per launch: time; DRAM, memory and SM throughput (% of peak, elapsed); tensor pipe and issue slots"
          " (% of active); achieved occupancy; registers; the three largest stall reasons (warp cycles per issued"
          " instruction)")
    print(f"{'us':>8} {'dram%':>6} {'mem%':>6} {'sm%':>6} {'tensor%':>8} {'issue%':>7} {'occ%':>6} {'regs':>5}  kernel")
    for r in t.rows:
        v = {k: t.value(r, c) for k, c in cols.items()}
        us = None if v["us"] is None else v["us"] * 1e6
        print(f"{fmt(us, '8.1f')} {fmt(v['dram%'], '6.1f')} {fmt(v['mem%'], '6.1f')} {fmt(v['sm%'], '6.1f')} "
              f"{fmt(v['tensor%'], '8.1f')} {fmt(v['issue%'], '7.1f')} {fmt(v['occ%'], '6.1f')} {fmt(v['regs'], '5.0f')}"
              f"  {t.kernel(r)}")
        top = sorted(((t.value(r, i) or 0.0, name) for i, name in stalls), reverse=True)[:3]
        if top:
            print("         stalls: " + ", ".join(f"{name} {x:.2f}" for x, name in top))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("step", "detail"):
        raise SystemExit(__doc__)
    step(sys.argv[2]) if sys.argv[1] == "step" else detail(sys.argv[2])
