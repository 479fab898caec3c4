"""Out-of-core (qdc.scale): the streaming paths give the in-memory results, in bounded memory."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qdc.cli import app
from qdc.dedup import DedupConfig, dedup
from qdc.dedup.jaccard import ragged_gather
from qdc.dedup.stream import StreamOptions, stream_dedup
from qdc.errors import ConfigError
from qdc.io import IOConfig, read_records, write_records
from qdc.io.read import iter_batches
from qdc.scale import memory
from qdc.scale.options import RunOptions
from qdc.scale.store import blocks, create, gather, open_store
from qdc.scale.store import ragged_gather as store_ragged_gather
from qdc.select.stream import ScaleSelectConfig, stream_select
from tests.conftest import select_input, write_jsonl


def _rows(n: int = 360, seed: int = 1) -> list[dict[str, Any]]:
    """Random word rows with planted exact copies (case/punctuation changes) and one-word substitutions."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(400)]
    rows: list[dict[str, Any]] = []
    for i in range(n):
        r = rng.random()
        if rows and r < 0.15:
            words = rng.choice(rows)["text"].split()
            words[rng.randrange(len(words))] = rng.choice(vocab)
            text = " ".join(words)
        elif rows and r < 0.25:
            text = rng.choice(rows)["text"].upper() + " !"
        elif r < 0.27:
            text = "..."  # no words: never a near-duplicate, exact still groups these
        else:
            text = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 45)))
        score = None if rng.random() < 0.1 else round(rng.random(), 3)
        rows.append({"id": f"r{i}", "text": text, "score": score})
    return rows


@pytest.mark.parametrize("keep", ["first", "longest", "best:score"])
def test_streaming_dedup_matches_in_memory(tmp_path: Path, keep: str) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", _rows())
    cfg = DedupConfig(keep=keep)
    res = dedup(read_records(src), cfg)
    write_records(res.kept, tmp_path / "mem.jsonl")
    write_records(res.removed, tmp_path / "mem_removed.jsonl")
    stats = stream_dedup(
        str(src),
        cfg,
        opts=StreamOptions(RunOptions(batch_rows=23), partitions=7),
        output=str(tmp_path / "s.jsonl"),
        removed=str(tmp_path / "s_removed.jsonl"),
    )
    assert res.stats["methods"]["exact"]["removed"] > 10
    assert res.stats["methods"]["minhash"]["removed"] > 10
    assert stats["batches"] == -(-360 // 23)
    assert stats["rows_removed"] == res.stats["rows_removed"]
    assert stats["methods"]["minhash"]["duplicate_pairs"] == res.stats["methods"]["minhash"]["duplicate_pairs"]
    assert (tmp_path / "s.jsonl").read_bytes() == (tmp_path / "mem.jsonl").read_bytes()
    assert (tmp_path / "s_removed.jsonl").read_bytes() == (tmp_path / "mem_removed.jsonl").read_bytes()
    assert not list(tmp_path.glob("qdc-scale-*"))


@pytest.mark.parametrize("methods", ["exact", "minhash"])
def test_streaming_single_method_matches(tmp_path: Path, methods: str) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", _rows(200, seed=4))
    cfg = DedupConfig(methods=methods, ngram=2, threshold=0.7)
    res = dedup(read_records(src), cfg)
    stats = stream_dedup(
        str(src), cfg, opts=StreamOptions(RunOptions(batch_rows=50), partitions=3), output=str(tmp_path / "s.jsonl")
    )
    assert stats["rows_kept"] == res.kept.height
    kept = [orjson.loads(line)["id"] for line in (tmp_path / "s.jsonl").read_bytes().splitlines()]
    assert kept == res.kept["id"].to_list()


def test_streaming_dedup_refuses_what_it_does_not_stream(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", _rows(20))
    for cfg in (
        DedupConfig(methods="semantic,exact"),
        DedupConfig(methods="exact,semantic"),
        DedupConfig(methods="minhash,exact"),
        DedupConfig(verify=False),
    ):
        with pytest.raises(ConfigError):
            stream_dedup(str(src), cfg, output=str(tmp_path / "o.jsonl"))


def test_reader_batches_equal_read_records(tmp_path: Path) -> None:
    rows = [{"text": f"t{i % 7}", "n": i} for i in range(50)] + [{"text": "t1", "n": 1}] * 3  # derived ids repeat
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    whole = read_records(src)
    parts = list(iter_batches(str(src), IOConfig(), batch_rows=8))
    assert [p.height for p in parts] == [8] * 6 + [5]
    joined = pl.concat(parts, how="vertical_relaxed")
    for col in whole.columns:
        assert joined[col].cast(pl.String).to_list() == whole[col].cast(pl.String).to_list(), col
    pq = tmp_path / "in.parquet"
    pl.DataFrame(rows).write_parquet(pq)
    pq_parts = list(iter_batches(str(pq), IOConfig(), batch_rows=16, user_columns=False))
    assert pl.concat(pq_parts)["__qdc_id"].to_list() == read_records(pq)["__qdc_id"].to_list()


def test_memmap_store_roundtrip(tmp_path: Path) -> None:
    x = create(tmp_path / "e.npy", 10, 4, "float16")
    x[:] = np.arange(40, dtype=np.float16).reshape(10, 4)
    x.flush()
    y = open_store(tmp_path / "e.npy", rows=10)
    assert y.dtype == np.float16
    got = np.concatenate([b for _, b in blocks(y, 3)])
    assert got.dtype == np.float32 and np.array_equal(got, np.arange(40).reshape(10, 4))
    with pytest.raises(Exception, match="embedding rows"):
        open_store(tmp_path / "e.npy", rows=11)
    rows = np.array([0, 2, 3, 9])
    assert np.array_equal(gather(y, rows, np.float32), np.asarray(y[rows], dtype=np.float32))
    values = np.arange(20, dtype=np.uint32)
    offsets = np.array([0, 3, 3, 10, 20])
    pick = np.array([0, 1, 3])
    got_v, got_o = store_ragged_gather(values, offsets, pick)
    want_v, want_o = ragged_gather(values, offsets, pick)
    assert np.array_equal(got_v, want_v) and np.array_equal(got_o, want_o)


def _select_input(tmp_path: Path, n: int = 900, dim: int = 16) -> tuple[Path, Path]:
    return select_input(tmp_path, n, dim, seed=0)


def test_kmq_over_memmap_selects_exactly_the_budget_deterministically(tmp_path: Path) -> None:
    src, emb = _select_input(tmp_path)
    outs = []
    for i, seed in enumerate((5, 5, 6)):
        out = tmp_path / f"o{i}.jsonl"
        stats = stream_select(
            str(src),
            str(emb),
            ScaleSelectConfig(budget=120, seed=seed),
            output=str(out),
            run=RunOptions(batch_rows=200),
        )
        assert stats["selected"] == 120 and stats["clusters"]["k"] == 12
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert outs[0] != outs[2]
    picked = [orjson.loads(line) for line in outs[0].splitlines()]
    assert len(picked) == 120
    ids = [int(p["id"][1:]) for p in picked]
    assert ids == sorted(ids)  # input order
    assert all(p["qdc_select_reason"].startswith("kmq cluster=") for p in picked)
    # The softmax on quality favours good rows.
    assert np.mean([p["qdc_quality"] for p in picked]) > 0.6
    frac = stream_select(
        str(src), str(emb), ScaleSelectConfig(budget=0.1, within="random"), run=RunOptions(batch_rows=64)
    )
    assert frac["selected"] == 90


def test_memory_estimate_and_limits() -> None:
    assert memory.parse_size("16G") == 16 << 30
    assert memory.parse_size("1.5m") == int(1.5 * (1 << 20))
    with pytest.raises(ConfigError):
        memory.parse_size("lots")

    def make(batch: int) -> memory.Estimate:
        return memory.dedup_estimate(10_000_000, 300.0, batch)

    big = make(100_000)
    assert big.per_row * 10_000_000 < big.memory
    est, rows = memory.plan(make, 100_000, big.memory - 1)  # shrinks the batch to fit
    assert rows < 100_000 and est.memory < big.memory
    with pytest.raises(ConfigError, match="--max-memory"):
        memory.plan(make, 100_000, 1 << 30)  # the per-row state alone is bigger than 1 GB


def test_cli_scale_dedup_matches_dedup_and_refuses_small_memory(tmp_path: Path, runner: Any) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", _rows(150, seed=9))
    res = runner.invoke(app, ["scale", "dedup", str(src), "-o", str(tmp_path / "s.jsonl"), "--batch-rows", "40"])
    assert res.exit_code == 0, res.stderr
    assert "expects about" in res.stderr
    assert res.stderr.count("expects about") == 1  # printed once, from the run's own estimate
    res2 = runner.invoke(app, ["dedup", str(src), "-o", str(tmp_path / "m.jsonl")])
    assert res2.exit_code == 0
    assert (tmp_path / "s.jsonl").read_bytes() == (tmp_path / "m.jsonl").read_bytes()
    small = runner.invoke(app, ["scale", "dedup", str(src), "-o", str(tmp_path / "x.jsonl"), "--max-memory", "1M"])
    assert small.exit_code == 2
    assert "--max-memory" in small.stderr and "too small" in small.stderr
    assert not (tmp_path / "x.jsonl").exists()
    stdin = runner.invoke(app, ["scale", "dedup", "-", "-o", str(tmp_path / "y.jsonl")])
    assert stdin.exit_code == 2


def test_dedup_stream_is_the_scale_dedup_engine(tmp_path: Path, runner: Any) -> None:
    """`qdc dedup --stream` writes what `qdc scale dedup` (now an alias, with a notice) and in-memory
    `qdc dedup` write; the streaming flags are refused without --stream."""
    src = write_jsonl(tmp_path / "in.jsonl", _rows(150, seed=9))
    outs = {}
    for name, args in {
        "stream": ["dedup", "--stream", "--executor", "local"],
        "alias": ["scale", "dedup"],
        "memory": ["dedup"],
    }.items():
        out, led = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.removed.jsonl"
        res = runner.invoke(app, [*args, str(src), "-o", str(out), "--removed", str(led)])
        assert res.exit_code == 0, res.stderr
        assert ("qdc dedup --stream" in res.stderr) == (name == "alias")  # the alias says what it now is
        outs[name] = (out.read_bytes(), led.read_bytes())
    assert outs["stream"] == outs["alias"] == outs["memory"]
    assert len(outs["stream"][1].splitlines()) > 0  # something was removed, so the ledgers were compared
    for flag in (["--executor", "ray"], ["--max-memory", "1G"]):
        res = runner.invoke(app, ["dedup", str(src), "-o", str(tmp_path / "z.jsonl"), *flag])
        assert res.exit_code == 2 and "go with --stream" in res.stderr


def test_cli_scale_select(tmp_path: Path, runner: Any) -> None:
    src, emb = _select_input(tmp_path, n=300)
    out = tmp_path / "p.jsonl"
    res = runner.invoke(
        app, ["scale", "select", str(src), "--embeddings", str(emb), "--budget", "40", "-o", str(out), "--json"]
    )
    assert res.exit_code == 0, res.stderr
    assert orjson.loads(res.stdout)["selected"] == 40
    assert len(out.read_bytes().splitlines()) == 40
    small = runner.invoke(
        app,
        [
            "scale",
            "select",
            str(src),
            "--embeddings",
            str(emb),
            "--budget",
            "40",
            "-o",
            str(out),
            "--max-memory",
            "10M",
        ],
    )
    assert small.exit_code == 2
    plain = tmp_path / "plain.jsonl"
    res = runner.invoke(
        app,
        [
            "scale",
            "select",
            str(src),
            "--embeddings",
            str(emb),
            "--budget",
            "40",
            "-o",
            str(plain),
            "--set",
            "cluster_quality=false",
        ],
    )
    assert res.exit_code == 0, res.stderr
    assert len(plain.read_bytes().splitlines()) == 40
    assert plain.read_bytes() != out.read_bytes()  # random scores: some cluster's factor is below 1


def test_stream_embed_then_select(tmp_path: Path, runner: Any, fake_embed_cfg: Any) -> None:
    from qdc.embed import embed_texts
    from qdc.embed.stream import stream_embed

    rows = [{"id": f"r{i}", "text": f"topic {i % 9} words {i}", "qdc_quality": (i % 10) / 10} for i in range(120)]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    stats = stream_embed(str(src), tmp_path / "e.npy", fake_embed_cfg, run=RunOptions(batch_rows=50))
    assert stats["rows"] == 120 and stats["dim"] == 64
    x = open_store(tmp_path / "e.npy", rows=120)
    want = embed_texts([r["text"] for r in rows], fake_embed_cfg)
    assert np.allclose(np.asarray(x, dtype=np.float32), want, atol=2e-3)
    assert not list(tmp_path.glob("*.qdc-tmp"))
    res = runner.invoke(
        app, ["scale", "embed", str(src), "-o", str(tmp_path / "c.npy"), "--model", "hash:64", "--no-cache", "--json"]
    )
    assert res.exit_code == 0, res.stderr
    assert np.array_equal(np.load(tmp_path / "c.npy"), np.load(tmp_path / "e.npy"))
    picked = stream_select(
        str(src), str(tmp_path / "e.npy"), ScaleSelectConfig(budget=30), run=RunOptions(batch_rows=50)
    )
    assert picked["selected"] == 30


def test_scale_embed_prints_its_estimate_and_honours_max_memory(tmp_path: Path, runner: Any) -> None:
    from qdc.scale.memory import BASE_BYTES, MODEL_BYTES, embed_estimate

    est = embed_estimate(1_000_000, 300.0, 100_000, "default", 2)
    assert est.disk == 1_000_000 * 384 * 2  # the float16 .npy
    assert est.fixed == BASE_BYTES + MODEL_BYTES["default"]
    assert embed_estimate(1_000_000, 300.0, 100_000, "default", 2, ray=True).fixed < est.fixed  # model on workers
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "text": f"row {i} " * 20} for i in range(3000)])
    out = tmp_path / "e.npy"
    ok = runner.invoke(
        app,
        [
            "scale",
            "embed",
            str(src),
            "-o",
            str(out),
            "--model",
            "hash:64",
            "--no-cache",
            "--max-memory",
            "305M",
            "--json",
        ],
    )
    assert ok.exit_code == 0, ok.stderr
    fitted = orjson.loads(ok.stdout)["batch_rows"]
    assert "expects about" in ok.stderr and f"batches of {fitted:,} rows" in ok.stderr
    assert 1000 <= fitted < 100_000 and np.load(out).shape == (3000, 64)
    refused = runner.invoke(
        app, ["scale", "embed", str(src), "-o", str(tmp_path / "no.npy"), "--model", "default", "--max-memory", "800M"]
    )
    assert refused.exit_code == 2 and "too small" in refused.stderr
    assert not list(tmp_path.glob("no.npy*"))  # refused before anything is written


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.integers(1, 90), parts=st.integers(1, 9), seed=st.integers(0, 10_000))
def test_streaming_dedup_is_independent_of_batches_and_partitions(
    tmp_path: Path, batch: int, parts: int, seed: int
) -> None:
    src = write_jsonl(tmp_path / f"in-{seed}.jsonl", _rows(90, seed=seed))
    want = dedup(read_records(src), DedupConfig()).kept["id"].to_list()
    out = tmp_path / f"out-{seed}-{batch}-{parts}.jsonl"
    stream_dedup(
        str(src), DedupConfig(), opts=StreamOptions(RunOptions(batch_rows=batch), partitions=parts), output=str(out)
    )
    assert [orjson.loads(line)["id"] for line in out.read_bytes().splitlines()] == want


def _score_rows() -> list[bytes]:
    """Alpaca rows: 8 without a response, then 8 without an instruction, then both; one bad line (line 8)."""
    rng = random.Random(7)
    words = [
        "Explain",
        "why?",
        "must",
        "in JSON",
        "step by step",
        "1.",
        "x = 2",
        "therefore",
        "Step 1:",
        "I'm sorry, I cannot",
        "alpha",
        "beta",
        "```python\nprint(1)\n```",
        "\n",
    ]
    lines = []
    for i in range(40):
        ins = "" if 8 <= i < 16 else " ".join(rng.choice(words) for _ in range(rng.randint(1, 20)))
        out = "" if i < 8 else " ".join(rng.choice(words) for _ in range(rng.randint(0, 40)))
        row: dict[str, Any] = {"id": f"r{i}", "instruction": ins, "output": out}
        row["qdc_complexity"] = 0.5  # earlier scores are replaced, as the in-memory scorers replace them
        if i % 5 == 0:
            row.update(qdc_quality=0.5, qdc_q_empty=0.5)
        lines.append(orjson.dumps(row))
    lines.insert(7, b'{"id": "bad", oops')
    return lines


def test_streamed_scores_are_the_in_memory_scores(tmp_path: Path) -> None:
    from qdc.complexity import ComplexityConfig, score_complexity
    from qdc.io import ReadReport
    from qdc.quality import QualityConfig, score_quality
    from qdc.quality.stream import stream_score

    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(_score_rows()) + b"\n")
    io = IOConfig(on_bad_rows="skip")
    heuristic = QualityConfig(scorer="heuristic")  # per-row signals: batch size cannot matter (learned: canned)
    write_records(score_complexity(score_quality(read_records(src, io), heuristic)), tmp_path / "mem.jsonl")
    want = (tmp_path / "mem.jsonl").read_bytes()
    for batch in (3, 1000):
        report = ReadReport()
        stats = stream_score(
            str(src),
            io,
            quality=heuristic,
            complexity=ComplexityConfig(),
            output=str(tmp_path / f"s{batch}.jsonl"),
            run=RunOptions(batch_rows=batch),
            report=report,
        )
        assert (tmp_path / f"s{batch}.jsonl").read_bytes() == want
        assert stats["rows"] == 40 and stats["batches"] == -(-40 // batch)
        assert [(b.line, b.source) for b in report.bad_rows] == [(8, str(src))]
    rows = [orjson.loads(line) for line in want.splitlines()]
    assert [r["id"] for r in rows] == [f"r{i}" for i in range(40)]
    assert list(rows[5])[-17:] == [
        "qdc_quality",
        *(
            f"qdc_q_{s}"
            for s in ("empty", "truncation", "refusal", "repetition", "echo", "soup", "placeholder", "length")
        ),
        "qdc_complexity",
        *(f"qdc_c_{s}" for s in ("tokens", "constraints", "questions", "steps", "code_blocks", "ast_nodes", "mtld")),
    ]
    # The first batches have no response (no instruction): scored alone they would fall back to the text.
    # The file has both, so they keep the empty part, as in the in-memory run of the whole file.
    assert all(r["qdc_quality"] == 0.0 for r in rows[:8])
    alone = score_quality(
        read_records(write_jsonl(tmp_path / "head.jsonl", [orjson.loads(x) for x in _score_rows()[:3]]))
    )
    assert alone["qdc_quality"].to_list() != [0.0, 0.0, 0.0]
    only_q = stream_score(
        str(src),
        io,
        quality=QualityConfig(signals=("empty", "length")),
        output=str(tmp_path / "q.jsonl"),
        run=RunOptions(batch_rows=4),
    )
    assert "complexity" not in only_q
    write_records(
        score_quality(read_records(src, io), QualityConfig(signals=("empty", "length"))), tmp_path / "mem_q.jsonl"
    )
    assert (tmp_path / "q.jsonl").read_bytes() == (tmp_path / "mem_q.jsonl").read_bytes()


def test_streamed_scoring_falls_back_to_the_text_as_the_whole_file_does(tmp_path: Path) -> None:
    from qdc.complexity import ComplexityConfig, score_complexity
    from qdc.quality import QualityConfig, score_quality
    from qdc.quality.stream import stream_score

    texts = [f"Why {i}? Step 1: x = {i}. " * (i % 4) for i in range(1, 12)]
    plain = write_jsonl(tmp_path / "plain.jsonl", [{"text": t} for t in texts])  # no responses anywhere
    no_prompt = write_jsonl(tmp_path / "np.jsonl", [{"instruction": "", "output": t} for t in texts])
    for src, flag in ((plain, "text_as_response"), (no_prompt, "text_as_prompt")):
        write_records(score_complexity(score_quality(read_records(src))), tmp_path / "mem.jsonl")
        stats = stream_score(
            str(src),
            output=str(tmp_path / "s.jsonl"),
            run=RunOptions(batch_rows=2),
            quality=QualityConfig(),
            complexity=ComplexityConfig(),
        )
        assert stats[flag] and stats["rows"] == 11
        assert (tmp_path / "s.jsonl").read_bytes() == (tmp_path / "mem.jsonl").read_bytes()


def test_cli_scale_score(tmp_path: Path, runner: Any) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(_score_rows()) + b"\n")
    bad = runner.invoke(app, ["scale", "score", str(src), "-o", str(tmp_path / "x.jsonl")])
    assert bad.exit_code == 1 and f"{src}:8:" in bad.stderr
    assert not (tmp_path / "x.jsonl").exists()
    res = runner.invoke(
        app,
        [
            "scale",
            "score",
            str(src),
            "-o",
            str(tmp_path / "s.jsonl"),
            "--batch-rows",
            "6",
            "--on-bad-rows",
            "skip",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.stderr
    assert orjson.loads(res.stdout)["rows"] == 40
    assert "expects about" in res.stderr
    assert (tmp_path / "s.jsonl.bad-rows.jsonl").read_bytes() == b'{"id": "bad", oops\n'
    for cmd in (
        ["score-quality", str(src), "-o", str(tmp_path / "q.jsonl")],
        ["score-complexity", str(tmp_path / "q.jsonl"), "-o", str(tmp_path / "qc.jsonl")],
        ["scale", "score", str(src), "-o", str(tmp_path / "c.jsonl"), "--no-quality"],
        ["score-complexity", str(src), "-o", str(tmp_path / "mc.jsonl")],
    ):
        assert runner.invoke(app, [*cmd, "--on-bad-rows", "skip"]).exit_code == 0, cmd
    assert (tmp_path / "s.jsonl").read_bytes() == (tmp_path / "qc.jsonl").read_bytes()
    assert (tmp_path / "c.jsonl").read_bytes() == (tmp_path / "mc.jsonl").read_bytes()
    small = runner.invoke(app, ["scale", "score", str(src), "-o", str(tmp_path / "y.jsonl"), "--max-memory", "1M"])
    assert small.exit_code == 2 and "too small" in small.stderr
    assert not (tmp_path / "y.jsonl").exists()
    none = runner.invoke(
        app, ["scale", "score", str(src), "-o", str(tmp_path / "y.jsonl"), "--no-quality", "--no-complexity"]
    )
    assert none.exit_code == 2


def test_score_estimate_shrinks_the_batch_then_refuses() -> None:
    def make(batch: int) -> memory.Estimate:
        return memory.score_estimate(10_000_000, 400.0, batch)

    big = make(100_000)
    assert big.memory > big.per_row * 10_000_000 + memory.BASE_BYTES
    est, rows = memory.plan(make, 100_000, big.memory - 1)
    assert rows < 100_000 and est.memory <= big.memory - 1
    assert memory.score_estimate(1000, 400.0, 1000, ray=True).memory > memory.score_estimate(1000, 400.0, 1000).memory
    with pytest.raises(ConfigError, match="--max-memory"):
        memory.plan(make, 100_000, 1 << 30)  # 10M ids + the interpreter do not fit 1 GB


def _semantic_runs(tmp_path: Path, runner: Any, method: str, extra: list[str], rows: int = 300) -> tuple[Path, Path]:
    """`qdc dedup` (hashing embedder) and `qdc scale dedup --embeddings` (the same vectors in a float32 .npy)."""
    src = write_jsonl(tmp_path / "in.jsonl", _rows(rows, seed=5))
    npy = tmp_path / "e.npy"
    emb = runner.invoke(
        app, ["scale", "embed", str(src), "-o", str(npy), "--model", "hash:64", "--dtype", "float32", "--no-cache"]
    )
    assert emb.exit_code == 0, emb.stderr
    mem = runner.invoke(
        app,
        [
            "dedup",
            str(src),
            "-o",
            str(tmp_path / "m.jsonl"),
            "--removed",
            str(tmp_path / "m_removed.jsonl"),
            "--method",
            method,
            "--model",
            "hash:64",
            "--no-cache",
            *extra,
        ],
    )
    assert mem.exit_code == 0, mem.stderr
    res = runner.invoke(
        app,
        [
            "scale",
            "dedup",
            str(src),
            "-o",
            str(tmp_path / "s.jsonl"),
            "--removed",
            str(tmp_path / "s_removed.jsonl"),
            "--method",
            method,
            "--embeddings",
            str(npy),
            "--batch-rows",
            "40",
            *extra,
        ],
    )
    assert res.exit_code == 0, res.stderr
    assert "expects about" in res.stderr and "largest cluster block" in res.stderr
    return src, npy


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("semantic", ["--set", "eps=0.2"]),
        ("exact,minhash,semantic", ["--set", "eps=0.3", "--keep", "longest"]),
        ("exact,semantic", ["--set", "eps=0.25", "--set", "semantic_mode=greedy", "--set", "semantic_order=easy"]),
    ],
)
def test_streamed_semantic_dedup_is_qdc_dedup_byte_for_byte(
    tmp_path: Path, runner: Any, method: str, extra: list[str]
) -> None:
    _semantic_runs(tmp_path, runner, method, extra)
    assert (tmp_path / "s.jsonl").read_bytes() == (tmp_path / "m.jsonl").read_bytes()
    ledger = (tmp_path / "s_removed.jsonl").read_bytes()
    assert ledger == (tmp_path / "m_removed.jsonl").read_bytes()
    removed = [orjson.loads(line) for line in ledger.splitlines()]
    assert sum(r["qdc_dup_method"] == "semantic" for r in removed) > 5
    kept = {orjson.loads(line)["id"] for line in (tmp_path / "s.jsonl").read_bytes().splitlines()}
    assert all(r["qdc_dup_of"] in kept for r in removed)


def test_streamed_semantic_with_clusters_finds_planted_copies(tmp_path: Path) -> None:
    n, dim = 2_000, 32
    rng = np.random.default_rng(3)
    v = rng.normal(size=(n, dim)).astype(np.float32)
    copies = rng.choice(np.arange(1, n), size=100, replace=False)
    for c in copies.tolist():  # a near copy of an earlier row
        v[c] = v[rng.integers(0, c)] + 0.01 * rng.normal(size=dim)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    x = create(tmp_path / "e.npy", n, dim, "float32")
    x[:] = v
    x.flush()
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{i}", "text": f"row {i}"} for i in range(n)])
    cfg = DedupConfig(methods="semantic", clusters=8)
    opts = StreamOptions(RunOptions(batch_rows=500), embeddings=str(tmp_path / "e.npy"))
    stats = stream_dedup(str(src), cfg, opts=opts, output=str(tmp_path / "o.jsonl"))
    sem = stats["methods"]["semantic"]
    assert sem["clusters"] == 8 and sem["trained_on"] == 512
    assert 95 <= stats["rows_removed"] <= 100  # a copy can land in another cluster than its source
    again = stream_dedup(str(src), cfg, opts=opts, output=str(tmp_path / "o2.jsonl"))
    assert again["rows_removed"] == stats["rows_removed"]
    assert (tmp_path / "o.jsonl").read_bytes() == (tmp_path / "o2.jsonl").read_bytes()


def test_streamed_semantic_refusals(tmp_path: Path, runner: Any) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", _rows(50))
    x = create(tmp_path / "e.npy", 49, 8, "float16")  # one row short
    x[:] = 0.5
    x.flush()
    short = runner.invoke(
        app,
        [
            "scale",
            "dedup",
            str(src),
            "-o",
            str(tmp_path / "o.jsonl"),
            "--method",
            "semantic",
            "--embeddings",
            str(tmp_path / "e.npy"),
        ],
    )
    assert short.exit_code == 1
    assert "49 embedding rows for 50 input rows" in short.stderr
    assert not (tmp_path / "o.jsonl").exists()
    for method, emb in (
        ("semantic", []),
        ("semantic,exact", ["--embeddings", str(tmp_path / "e.npy")]),
        ("exact", ["--embeddings", str(tmp_path / "e.npy")]),
    ):
        res = runner.invoke(
            app, ["scale", "dedup", str(src), "-o", str(tmp_path / "o.jsonl"), "--method", method, *emb]
        )
        assert res.exit_code == 2, (method, res.stderr)
    assert "--embeddings" in runner.invoke(app, ["scale", "dedup", str(src), "--method", "semantic"]).stderr


def test_streamed_semantic_memory_estimate_and_max_memory(tmp_path: Path, runner: Any) -> None:
    one = memory.dedup_estimate(1_000_000, 300.0, 100_000, semantic=(384, 1, 64))
    many = memory.dedup_estimate(1_000_000, 300.0, 100_000, semantic=(384, 1_000, 64))
    plain = memory.dedup_estimate(1_000_000, 300.0, 100_000)
    # One global cluster gathers every row (2 x 1M x 384 x 4 B); 1,000 clusters gather ~4,000 rows at a time.
    assert one.parts["largest cluster block"] > 2 * 1_000_000 * 384 * 4
    assert many.parts["largest cluster block"] < 100 << 20
    assert many.parts["k-means sample"] == 64_000 * 384 * 4
    assert (
        many.memory - plain.memory
        == many.parts["largest cluster block"]
        + many.parts["k-means sample"]
        + many.parts["assignment block"]
        + memory.SEMANTIC_ROW_BYTES * 1_000_000
    )
    src = write_jsonl(tmp_path / "in.jsonl", _rows(100))
    x = create(tmp_path / "e.npy", 100, 8, "float16")
    x[:] = 0.5
    x.flush()
    args = [
        "scale",
        "dedup",
        str(src),
        "-o",
        str(tmp_path / "o.jsonl"),
        "--method",
        "semantic",
        "--embeddings",
        str(tmp_path / "e.npy"),
    ]
    small = runner.invoke(app, [*args, "--max-memory", "100M"])
    assert small.exit_code == 2
    assert "too small" in small.stderr
    assert not (tmp_path / "o.jsonl").exists()
    ok = runner.invoke(app, [*args, "--max-memory", "2G", "--json"])
    assert ok.exit_code == 0, ok.stderr
    stats = orjson.loads(ok.stdout)
    assert stats["rows_removed"] == 99  # every vector equal: all but the first go (order hard, ties by input)
    assert stats["estimate"]["memory_bytes"] < 2 << 30
    assert "largest cluster block" in stats["estimate"]["text"] and "largest cluster block" in ok.stderr
