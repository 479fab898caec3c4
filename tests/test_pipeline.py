"""`qdc run`: config parsing and overrides, the resumable work dir, the ledger, the manifest, presets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pipeline_stages
import polars as pl
import pytest
from conftest import ROOT, SAMPLE, read_jsonl, write_jsonl

from qdc import schema
from qdc.cli import app
from qdc.errors import ConfigError
from qdc.pipeline import (
    STAGES,
    available_stages,
    load_pipeline,
    parse_pipeline,
    run_file,
)

CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
HASH = ["embed.model=hash:64"]


@pytest.fixture(autouse=True)
def _test_stages() -> Iterator[None]:
    """The test-only stages, registered for this module's tests and removed after each (the registry is
    global: other modules' tests that walk every stage must not meet them)."""
    from qdc.pipeline import STAGES

    before = dict(STAGES)
    pipeline_stages.register()
    yield
    STAGES.clear()
    STAGES.update(before)


def rows(n: int = 40) -> list[dict[str, object]]:
    topics = [
        "prime numbers",
        "sorting lists",
        "french cooking",
        "tax forms",
        "bird migration",
        "jazz chords",
        "tide tables",
        "soil acidity",
    ]
    out = []
    for i in range(n):
        t = topics[i % len(topics)]
        out.append(
            {
                "id": f"r{i:03d}",
                "instruction": f"Explain {t} in a short paragraph, example {i}.",
                "input": "",
                "output": f"{t.capitalize()} are interesting because of reason {i}. "
                f"Here is a detail about {t}: item {i * 7 % 13}.",
            }
        )
    out[5] = {**out[1], "id": "r005"}  # an exact duplicate of r001
    return out


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "in.jsonl", rows())


def pipe(stages: list[object], **top: object) -> dict[str, object]:
    return {"seed": 3, "embed": {"model": "hash:64", "cache": False}, "stages": stages, **top}


# ------------------------------------------------------------------------------------------ config


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_preset_loads(path: Path) -> None:
    p = load_pipeline(path, HASH)
    assert p.stages, path
    assert p.embed.model == "hash:64"


def test_presets_use_every_available_stage() -> None:
    default = {s.name for s in load_pipeline(ROOT / "configs" / "default.yaml").stages}
    assert default == set(available_stages()) - {"check", "trip", "drop-silently"}
    assert [s.name for s in load_pipeline(ROOT / "configs" / "ci.yaml").stages] == ["check"]
    fast = load_pipeline(ROOT / "configs" / "fast.yaml")
    assert fast.embed.model.startswith(("hash", "static"))


def test_set_select_budget_on_default() -> None:
    p = load_pipeline(ROOT / "configs" / "default.yaml", ["select.budget=400"])
    assert p.stage("select").budget == 400  # type: ignore[union-attr]
    assert p.hash != load_pipeline(ROOT / "configs" / "default.yaml").hash


def test_global_seed_flows_into_seeded_stages_unless_set() -> None:
    p = parse_pipeline(pipe(["embed", "cluster", {"select": {"budget": 5, "seed": 9}}]))
    assert p.stage("cluster").seed == 3  # type: ignore[union-attr]
    assert p.stage("select").seed == 9  # type: ignore[union-attr]
    assert parse_pipeline(pipe(["cluster"]), overrides=["seed=11"]).stage("cluster").seed == 11  # type: ignore[union-attr]


def test_embed_section_and_overrides_reach_the_embed_stage() -> None:
    p = parse_pipeline(pipe([{"embed": {"model": "hash:32"}}]), overrides=["embed.model=hash:16"])
    assert p.stage("embed").model == "hash:16"  # type: ignore[union-attr]
    assert p.embed.model == "hash:16"


def test_each_stage_gets_only_its_own_section() -> None:
    with pytest.raises(ConfigError, match=r"my\.yaml: stage 2 'cluster': unknown key 'budget'"):
        parse_pipeline(pipe(["embed", {"cluster": {"budget": 3}}]), "my.yaml")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"stages": [], "stagez": []}, r"f\.yaml: unknown key 'stagez'"),
        ({"stages": ["embedd"]}, r"f\.yaml: stage 1: unknown stage 'embedd'"),
        ({"io": {"text_key": "t"}, "stages": []}, r"f\.yaml: io: unknown key 'text_key'"),
        ({"embed": {"modle": "x"}, "stages": []}, r"f\.yaml: embed: unknown key 'modle'"),
        ({"seed": -1, "stages": []}, r"f\.yaml: 'seed' must be a whole number from 0"),
        ({"stages": [{"a": 1, "b": 2}]}, r"one-key mapping"),
    ],
)
def test_config_errors_name_key_and_file(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_pipeline(doc, "f.yaml")


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("nothing=1", r"unknown key 'nothing'"),
        ("dedup.threshold=0.9", r"has no 'dedup' stage"),
        ("cluster=3", r"name a key of stage 'cluster'"),
        ("cluster.kk=3", r"unknown key 'kk'"),
        ("stages.9.k=2", r"stages\.N\.key with N in 1\.\.2"),
        ("novalue", r"expected key\.path=value"),
    ],
)
def test_override_errors(item: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_pipeline(pipe(["embed", "cluster"]), "f.yaml", [item])


def test_override_by_position_and_ambiguity() -> None:
    doc = pipe(["cluster", "cluster"])
    with pytest.raises(ConfigError, match="2 'cluster' stages"):
        parse_pipeline(doc, "f.yaml", ["cluster.k=3"])
    p = parse_pipeline(doc, "f.yaml", ["stages.2.k=3", "stages.1.cluster.k=4"])
    assert [s.config.k for s in p.stages] == [4, 3]  # type: ignore[attr-defined]


def test_toml_config(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('seed = 5\n[embed]\nmodel = "hash:64"\n[[stages]]\nembed = {}\n[[stages]]\ncluster = {k = 2}\n')
    p = load_pipeline(path)
    assert [s.name for s in p.stages] == ["embed", "cluster"]
    assert p.stage("cluster").k == 2  # type: ignore[union-attr]


def test_toml_config_that_cannot_be_opened_is_one_config_error(tmp_path: Path) -> None:
    """Missing or a folder: one line, exit 2 (YAML files had this; a .toml folder raised IsADirectoryError)."""
    with pytest.raises(ConfigError, match="no such config file"):
        load_pipeline(tmp_path / "missing.toml")
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ConfigError, match="is a folder, expected a config file"):
        load_pipeline(tmp_path / "dir.toml")


def test_registry_names_the_issue_stages() -> None:
    for name in ("embed", "cluster", "dedup", "score-quality", "score-complexity", "select", "diversity", "check"):
        assert name in STAGES


# ----------------------------------------------------------------------------- work dir and resume


def trip_pipeline(tmp_path: Path, mode: str = "raise") -> dict[str, object]:
    return pipe(
        [
            "embed",
            {"cluster": {"k": 3}},
            {"trip": {"counter": str(tmp_path / "count"), "marker": str(tmp_path / "marker"), "mode": mode}},
            {"drop-silently": {"every": 4}},
        ]
    )


def test_resume_after_a_crash(tmp_path: Path, data: Path) -> None:
    (tmp_path / "marker").touch()
    p = parse_pipeline(trip_pipeline(tmp_path))
    wd, out = tmp_path / "wd", tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_file(p, str(data), str(out), workdir=wd)
    assert not out.exists()  # no partial output
    assert len(list((wd / "stages").glob("*.json"))) == 2  # embed and cluster finished
    (tmp_path / "marker").unlink()
    res = run_file(p, str(data), str(out), workdir=wd)
    assert [r.status for r in res.stages] == ["cached", "cached", "ran", "ran"]
    assert (tmp_path / "count").read_text() == "2"
    again = run_file(p, str(data), str(out), workdir=wd)
    assert [r.status for r in again.stages] == ["cached"] * 4
    assert (tmp_path / "count").read_text() == "2"  # a finished stage never runs again
    assert again.df.equals(res.df)


def test_resume_after_sigkill(tmp_path: Path, data: Path) -> None:
    """A real kill -9 in the middle of stage 3: stages 1-2 are kept, the rerun starts at stage 3."""
    (tmp_path / "marker").touch()
    cfg = tmp_path / "p.json"
    cfg.write_text(json.dumps(trip_pipeline(tmp_path, "kill")))
    script = (
        "import json, sys; import pipeline_stages; pipeline_stages.register()\n"
        "from qdc.pipeline import parse_pipeline, run_file\n"
        f"p = parse_pipeline(json.load(open({str(cfg)!r})))\n"
        f"run_file(p, {str(data)!r}, {str(tmp_path / 'out.jsonl')!r}, workdir={str(tmp_path / 'wd')!r})\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, check=False)
    assert proc.returncode == -9, proc.stderr.decode()
    assert not (tmp_path / "out.jsonl").exists()
    (tmp_path / "marker").unlink()
    p = parse_pipeline(json.loads(cfg.read_text()))
    res = run_file(p, str(data), str(tmp_path / "out.jsonl"), workdir=tmp_path / "wd")
    assert [r.status for r in res.stages] == ["cached", "cached", "ran", "ran"]
    assert (tmp_path / "count").read_text() == "2"


def test_cache_invalidation_on_config_and_input_change(tmp_path: Path, data: Path) -> None:
    doc = pipe(["embed", {"cluster": {"k": 3}}, {"dedup": {}}])
    wd, out = tmp_path / "wd", str(tmp_path / "o.jsonl")
    first = run_file(parse_pipeline(doc), str(data), out, workdir=wd)
    assert [r.status for r in first.stages] == ["ran"] * 3
    changed = run_file(parse_pipeline(doc, overrides=["cluster.k=4"]), str(data), out, workdir=wd)
    assert [r.status for r in changed.stages] == ["cached", "ran", "ran"]
    reseeded = run_file(parse_pipeline(doc, overrides=["seed=4"]), str(data), out, workdir=wd)
    assert [r.status for r in reseeded.stages] == ["ran"] * 3
    edited = rows()
    edited[7]["output"] = "A different answer."
    other = write_jsonl(tmp_path / "in2.jsonl", edited)
    moved = run_file(parse_pipeline(doc), str(other), out, workdir=wd)
    assert [r.status for r in moved.stages] == ["ran"] * 3
    assert moved.input_hash != first.input_hash
    forced = run_file(parse_pipeline(doc), str(data), out, workdir=wd, force=True)
    assert [r.status for r in forced.stages] == ["ran"] * 3


def test_no_workdir_keeps_nothing(tmp_path: Path, data: Path) -> None:
    p = parse_pipeline(pipe(["embed"]))
    res = run_file(p, str(data), str(tmp_path / "o.jsonl"), workdir=None)
    assert res.stages[0].status == "ran"
    assert res.manifest["workdir"] is None


def _removing_pipeline() -> dict[str, object]:
    return pipe(["embed", {"dedup": {}}, {"drop-silently": {"every": 4}}, {"cluster": {"k": 2}}])


def _ledger_ids(path: Path) -> list[str]:
    return sorted(str(r["id"]) for r in read_jsonl(path.read_bytes()))


@pytest.mark.parametrize("damage", ["delete-removed", "truncate-rows", "swap-rows", "garble-record"])
def test_damaged_work_dir_is_not_resumed_blindly(tmp_path: Path, data: Path, damage: str) -> None:
    """Issue 15 item 5: each artifact's hash is in the stage record; a mismatch re-runs the stage."""
    p = parse_pipeline(_removing_pipeline())
    wd, out = tmp_path / "wd", tmp_path / "o.jsonl"
    first = run_file(p, str(data), str(out), workdir=wd)
    ledger = _ledger_ids(Path(f"{out}.removed.jsonl"))
    assert len(ledger) == first.removed_count > 0
    keys = [r.key for r in first.stages]
    stages = wd / "stages"
    drop_key = keys[2]  # drop-silently: removes rows, so it has a removed file
    if damage == "delete-removed":
        (stages / f"{drop_key}.removed.parquet").unlink()
    elif damage == "truncate-rows":
        f = stages / f"{keys[1]}.parquet"
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    elif damage == "swap-rows":
        (stages / f"{keys[1]}.parquet").write_bytes((stages / f"{keys[0]}.parquet").read_bytes())
    else:
        (stages / f"{drop_key}.json").write_text("{not json")
    again = run_file(p, str(data), str(out), workdir=wd)
    assert "ran" in [r.status for r in again.stages]
    assert _ledger_ids(Path(f"{out}.removed.jsonl")) == ledger
    assert again.df.equals(first.df)
    third = run_file(p, str(data), str(out), workdir=wd)  # repaired: everything cached again
    assert [r.status for r in third.stages] == ["cached"] * 4


def test_output_ledger_and_manifest_are_committed_together(
    tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15 item 4: a run that fails while writing its files leaves the previous set as it was."""
    import qdc.io

    out = tmp_path / "o.jsonl"
    run_file(parse_pipeline(_removing_pipeline()), str(data), str(out), workdir=None)
    files = [out, Path(f"{out}.removed.jsonl"), Path(f"{out}.manifest.json")]
    before = [f.read_bytes() for f in files]

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(qdc.io, "write_json", broken)
    p2 = parse_pipeline(_removing_pipeline(), overrides=["stages.3.every=2"])  # a different result
    with pytest.raises(OSError, match="disk full"):
        run_file(p2, str(data), str(out), workdir=None)
    assert [f.read_bytes() for f in files] == before
    assert sorted(x.name for x in tmp_path.iterdir() if x.name.startswith(".")) == []  # no staged leftovers


def test_a_second_run_on_a_locked_work_dir_exits_2(tmp_path: Path, data: Path, runner) -> None:
    """Issue 15 item 6: a live pid in WORKDIR/lock makes a second run refuse (exit 2, one line); a dead
    one's lock is taken over, and the lock is released after the run."""
    cfg = tmp_path / "p.yaml"
    cfg.write_text(json.dumps(pipe(["embed"])))
    wd = tmp_path / "wd"
    (wd / "stages").mkdir(parents=True)
    stray = wd / "stages" / ".abc.parquet.qdc-tmp"
    stray.write_bytes(b"the first run's file")
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (wd / "lock").write_text(f"{holder.pid}\n")
        args = ["run", str(cfg), str(data), "-o", str(tmp_path / "o.jsonl"), "--workdir", str(wd)]
        res = runner.invoke(app, args)
        assert res.exit_code == 2
        assert f"in use by another qdc run (pid {holder.pid})" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
        assert stray.exists()  # the other run's temporaries are left alone
    finally:
        holder.kill()
        holder.wait()
    res = runner.invoke(app, args)  # the holder is dead now: its lock is stale
    assert res.exit_code == 0, res.stderr
    assert not (wd / "lock").exists()
    assert not stray.exists()


def test_staged_files_of_a_killed_run_are_swept(tmp_path: Path, data: Path) -> None:
    """A kill -9 between staging and renaming leaves '.qdc-stage-PID-NAME'; the next run removes those of
    dead processes and leaves a live one's."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".qdc-stage-{dead.pid}-o.jsonl"
    stale.write_text("half a run")
    live = tmp_path / f".qdc-stage-{os.getpid()}-other.jsonl"
    live.write_text("a run in progress")
    run_file(parse_pipeline(pipe(["embed"])), str(data), str(tmp_path / "o.jsonl"), workdir=None)
    assert not stale.exists()
    assert live.exists()


# ------------------------------------------------------------------------------ ledger and manifest


def test_ledger_accounts_for_every_row(tmp_path: Path, data: Path) -> None:
    p = parse_pipeline(
        pipe(
            ["embed", {"dedup": {}}, {"drop-silently": {"every": 4}}, {"select": {"budget": 10, "strategy": "random"}}]
        )
    )
    out = tmp_path / "o.jsonl"
    res = run_file(p, str(data), str(out), workdir=tmp_path / "wd")
    kept = read_jsonl(out.read_bytes())
    ledger = read_jsonl((tmp_path / "o.jsonl.removed.jsonl").read_bytes())
    assert len(kept) == 10
    ids = [r["id"] for r in kept] + [r["id"] for r in ledger]
    assert sorted(ids) == sorted(r["id"] for r in rows())  # in = kept + removed, each exactly once
    by = {r["id"]: r for r in ledger}
    assert by["r005"][schema.REMOVED_BY] == "dedup" and by["r005"][schema.DUP_OF] == "r001"
    assert {r[schema.REMOVED_BY] for r in ledger} == {"dedup", "drop-silently", "select"}
    assert res.stages[0].removed == 0
    assert sum(s.removed for s in res.stages) == len(ledger)


def test_manifest_records_the_run(tmp_path: Path, data: Path) -> None:
    p = parse_pipeline(pipe(["embed", {"cluster": {"k": 2}}]), "my.yaml", ["cluster.k=3"])
    run_file(p, str(data), str(tmp_path / "o.jsonl"), workdir=tmp_path / "wd", manifest_path=str(tmp_path / "m.json"))
    m = orjson.loads((tmp_path / "m.json").read_bytes())
    assert m["versions"]["qdc"] and m["versions"]["polars"]
    assert m["seed"] == 3 and m["model"]["identity"] == "hash:64:v1"
    assert m["config"]["path"] == "my.yaml" and m["config"]["overrides"] == ["cluster.k=3"]
    assert len(m["input"]["hash"]) == 32 and len(m["config"]["hash"]) == 32
    assert m["input"]["rows"] == 40 and m["output"]["rows"] == 40
    assert [s["stage"] for s in m["stages"]] == ["embed", "cluster"]
    for s in m["stages"]:
        assert s["rows_in"] == 40 and s["rows_out"] == 40
        assert s["seconds"] >= 0 and s["peak_rss_mb"] > 10
    assert m["config"]["resolved"]["stages"][1]["cluster"]["k"] == 3


# ------------------------------------------------------------------------------------------- CLI


def test_cli_run_default_preset_with_budget(tmp_path: Path, runner) -> None:
    out = tmp_path / "o.jsonl"
    res = runner.invoke(
        app,
        [
            "run",
            str(ROOT / "configs" / "default.yaml"),
            str(SAMPLE),
            "-o",
            str(out),
            "--set",
            "select.budget=400",
            "--set",
            "embed.model=hash:64",
            "--workdir",
            str(tmp_path / "wd"),
        ],
    )
    assert res.exit_code == 0, res.stderr
    assert len(read_jsonl(out.read_bytes())) == 400
    assert "score-complexity" in res.stderr and "removed" in res.stderr and "cached" not in res.stderr
    assert res.stdout == ""
    m = orjson.loads((tmp_path / "o.jsonl.manifest.json").read_bytes())
    assert [s["stage"] for s in m["stages"]] == [
        "embed",
        "cluster",
        "dedup",
        "score-quality",
        "score-complexity",
        "select",
        "diversity",
    ]
    assert m["stages"][-1]["summary"]["n"] == 400 and m["stages"][-1]["summary"]["vendi"] > 1
    sel = m["stages"][-2]
    assert sum(sel["summary"]["not_selected"].values()) == sel["rows_in"] - 400  # every removal has its reason


def test_cli_quiet_and_json(tmp_path: Path, runner, data: Path) -> None:
    cfg = tmp_path / "p.yaml"
    cfg.write_text("embed: {model: 'hash:64'}\nstages: [embed]\n")
    res = runner.invoke(
        app, ["--quiet", "run", str(cfg), str(data), "-o", str(tmp_path / "o.jsonl"), "--json", "--no-workdir"]
    )
    assert res.exit_code == 0, res.stderr
    assert res.stderr == ""
    assert json.loads(res.stdout)["output"]["rows"] == 40


def test_cli_run_stdout_and_config_errors(tmp_path: Path, runner, data: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("stages:\n  - cluster: {kk: 2}\n")
    res = runner.invoke(app, ["run", str(cfg), str(data)])
    assert res.exit_code == 2
    assert "bad.yaml" in res.stderr and "'kk'" in res.stderr
    res = runner.invoke(app, ["run", str(ROOT / "configs" / "default.yaml"), str(data), "--set", "select.bogus=1"])
    assert res.exit_code == 2 and "bogus" in res.stderr


def test_cli_ci_preset_fails_with_exit_3(tmp_path: Path, runner, data: Path) -> None:
    res = runner.invoke(
        app, ["run", str(ROOT / "configs" / "ci.yaml"), str(data), "-o", str(tmp_path / "o.jsonl"), "--no-workdir"]
    )
    assert res.exit_code == 3  # 40 rows < min_rows 100
    assert "min_rows" in res.stderr or "rows = 40" in res.stderr


@pytest.mark.parametrize("name", ["default.yaml", "fast.yaml"])
def test_presets_run_on_small_input(tmp_path: Path, runner, data: Path, name: str) -> None:
    out = tmp_path / "o.jsonl"
    res = runner.invoke(
        app,
        [
            "run",
            str(ROOT / "configs" / name),
            str(data),
            "-o",
            str(out),
            "--no-workdir",
            "--set",
            "embed.model=hash:64",
            "--set",
            "select.budget=10",
        ],
    )
    assert res.exit_code == 0, res.stderr
    kept = read_jsonl(out.read_bytes())
    assert len(kept) == 10
    assert "r005" not in {k["id"] for k in kept}  # the exact duplicate of r001 never survives dedup
    assert {"qdc_quality", "qdc_complexity", "qdc_cluster"} <= set(kept[0])


def test_labelled_preset_balances_classes_and_prefers_agreeing_labels(tmp_path: Path, runner) -> None:
    # Two topics, labelled by topic (3:1); five rows (four of topic 0, one of topic 1) carry the other label.
    src = []
    for i in range(80):
        topic = 0 if i < 60 else 1
        label = 1 - topic if i % 15 == 7 else topic
        words = ("tide moon ocean shore wave" if topic == 0 else "jazz chord piano swing note").split()
        src.append({"id": f"r{i:02d}", "text": f"{' '.join(words)} {words[i % 5]} item {i}", "label": label})
    data = write_jsonl(tmp_path / "lab.jsonl", src)
    out = tmp_path / "o.jsonl"
    res = runner.invoke(
        app,
        [
            "run",
            str(ROOT / "configs" / "labelled.yaml"),
            str(data),
            "-o",
            str(out),
            "--no-workdir",
            "--set",
            "embed.model=hash:64",
            "--set",
            "select.budget=20",
        ],
    )
    assert res.exit_code == 0, res.stderr
    kept = read_jsonl(out.read_bytes())
    assert sorted(k["label"] for k in kept) == [0] * 10 + [1] * 10
    scores = {r["id"]: r["qdc_label_agreement"] for r in kept}
    flipped = {f"r{i:02d}" for i in range(80) if i % 15 == 7}
    assert all(scores[i] > 0.5 for i in scores if i not in flipped)
    assert len(flipped & set(scores)) <= 2  # of 5 flipped rows (they form a small cluster of their class)


def test_golden_default_pipeline_ids(tmp_path: Path) -> None:
    """The default preset (hash embeddings) on sample_data keeps the same ids. Regenerate deliberately
    with QDC_UPDATE_GOLDEN=1 after an intended change to a stage."""
    golden = ROOT / "tests" / "golden" / "default_hash64_ids.txt"
    p = load_pipeline(ROOT / "configs" / "default.yaml", ["embed.model=hash:64", "select.budget=400"])
    res = run_file(p, str(SAMPLE), str(tmp_path / "o.jsonl"), workdir=None)
    ids = "\n".join(sorted(res.df[schema.ROW_ID].to_list())) + "\n"
    if os.environ.get("QDC_UPDATE_GOLDEN"):
        golden.write_text(ids)
    assert golden.exists(), "run with QDC_UPDATE_GOLDEN=1 to create the golden file"
    assert ids == golden.read_text()
    assert pl.Series(res.df[schema.ROW_ID]).n_unique() == 400


class _Judge(BaseHTTPRequestHandler):
    """A chat-completions endpoint that scores every answer 5 and counts its calls."""

    calls = 0

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        assert body["messages"]
        type(self).calls += 1
        message = {"role": "assistant", "content": '{"score": 5}'}
        out = json.dumps({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: object) -> None:
        return None


def test_judge_preset_calls_the_judge_at_most_its_budget(tmp_path: Path, data: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Judge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Judge.calls = 0
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        p = load_pipeline(
            ROOT / "configs" / "judge.yaml",
            [
                *HASH,
                "stages.6.budget=20",
                "stages.8.budget=10",
                f"stages.7.judge.base_url={url}",
                "stages.7.judge.cache=false",
                "stages.6.min_quality=0",
            ],
        )
        res = run_file(p, str(data), str(tmp_path / "o.jsonl"), workdir=None)
    finally:
        server.shutdown()
    assert 0 < _Judge.calls <= 20
    assert [s.rows_out for s in res.stages][-3:] == [20, 20, 10]
    assert res.df[schema.QUALITY].to_list() == pytest.approx([0.8] * 10)  # judge 5 on 1..6 -> 0.8
