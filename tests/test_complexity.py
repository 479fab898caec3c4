"""Complexity signals (positive and negative cases), the combined score, explain, and the CLI."""

from __future__ import annotations

import orjson
import pytest

from qdc import schema
from qdc.cli import app
from qdc.complexity import explain, score_complexity
from qdc.complexity.code import code_stats
from qdc.complexity.signals import measure
from tests.conftest import read_jsonl, write_jsonl

HARD = (
    "Write a Python function that parses a CSV file and returns the average of each column. It must "
    "skip empty lines, should handle at least three data types, and must not use pandas. Format the "
    "output as JSON. Then explain the time complexity. What happens with a 10 GB file?"
)
HARD_ANSWER = """Step 1: read the file line by line.
Step 2: keep running sums.
```python
import csv, json

def averages(path):
    sums, counts = {}, {}
    with open(path) as f:
        for row in csv.DictReader(f):
            for k, v in row.items():
                if v:
                    sums[k] = sums.get(k, 0.0) + float(v)
                    counts[k] = counts.get(k, 0) + 1
    return json.dumps({k: sums[k] / counts[k] for k in sums})
```
The cost is O(n) = 1 pass, so a 10 GB file takes time in proportion to size; therefore memory stays flat."""


def test_signals_positive_and_negative():
    easy = measure("Say hi.", "Hi!")
    hard = measure(HARD, HARD_ANSWER)
    assert easy["tokens"] == 2 and hard["tokens"] > 40
    assert easy["constraints"] == 0 and hard["constraints"] >= 5
    assert easy["questions"] == 0 and hard["questions"] >= 2
    assert easy["steps"] == 0 and hard["steps"] >= 3
    assert easy["code_blocks"] == 0 and hard["code_blocks"] == 1 and hard["ast_nodes"] > 50
    assert easy["mtld"] == 0.0 and hard["mtld"] > 20


def test_code_detection():
    assert code_stats("def f(x):\n    y = x + 1\n    return y * 2\n")[1] > 5  # bare Python counts
    assert code_stats("```js\nconsole.log(1)\n```") == (1, 0)  # other languages: code, no AST
    assert code_stats("```python\ndef broken(:\n```") == (1, 0)  # unparseable: no nodes, no crash
    assert code_stats("A plain sentence = not code.") == (0, 0)
    math = measure("Solve it.", "3 + 4 = 7\n7 * 2 = 14\n<<14/2=7>>7\nTherefore the answer is 7.")
    assert math["steps"] >= 4


def test_score_order_range_and_explain(frame):
    df = frame(
        [
            {"id": "e", "instruction": "Say hi.", "output": "Hi!"},
            {"id": "h", "instruction": HARD, "output": HARD_ANSWER},
        ]
    )
    out = score_complexity(df)
    c = out[schema.COMPLEXITY].to_list()
    assert 0 <= c[0] < 0.1 < 0.5 < c[1] <= 1
    names = ("tokens", "constraints", "questions", "steps", "code_blocks", "ast_nodes", "mtld")
    assert {f"qdc_c_{k}" for k in names} <= set(out.columns)
    info = explain(out, "h")
    assert info["complexity"] == pytest.approx(c[1], abs=1e-4) and info["signals"]["code_blocks"] == 1


def test_cli(tmp_path, runner):
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": "h", "instruction": HARD, "output": HARD_ANSWER}])
    res = runner.invoke(app, ["score-complexity", str(src)])
    assert res.exit_code == 0, res.output
    row = read_jsonl(res.stdout)[0]
    assert row["id"] == "h" and 0 < row["qdc_complexity"] <= 1
    res = runner.invoke(app, ["score-complexity", str(src), "--explain", "h"])
    assert res.exit_code == 0 and orjson.loads(res.stdout)["signals"]["tokens"] > 40
    out = tmp_path / "o.jsonl"
    res = runner.invoke(app, ["score-complexity", str(src), "-o", str(out), "--json"])
    assert orjson.loads(res.stdout)["rows"] == 1 and out.exists()
    assert runner.invoke(app, ["score-complexity", str(src), "--scorer", "nope"]).exit_code == 2
