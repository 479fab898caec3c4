"""`qdc embed`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import show
from qdc.cli._stream import STREAM, STREAMING, _s, run_options, streamed

if TYPE_CHECKING:
    import polars as pl

    from qdc.embed import EmbedConfig


@o.command(
    app,
    "embed",
    (
        o.MODEL.with_(key="model"),
        o.BATCH.with_(key="batch_size"),
        o.DEVICE.with_(key="device"),
        o.NO_CACHE.with_(key="cache", convert=o.negate),
        o.EMBED_FIELD.with_(key="field"),
        o.K("--force", bool, "force", stream=False),
        o.BAD_FILE.with_(stream=False),
        STREAM.with_(help="A file larger than memory: embedded in batches into a memory-mapped -o FILE.npy."),
        _s("--dtype", str, "With --stream: float16 (half the disk) or float32.", "float16"),
        *STREAMING,
    ),
    config="qdc.embed:EmbedConfig",
    rows=True,
)
def embed_cmd(a: o.Args, cfg: EmbedConfig) -> None:
    """Add `qdc_embedding`: an L2-normalised float32 vector per row.

    The default model is all-MiniLM-L6-v2, loaded offline from the installed package. Vectors are cached
    by (model, text), so a re-run embeds only rows it has not seen. Parquet output stores them as a
    fixed-size list; JSONL as a list of floats.

    With `--stream` (was `qdc scale embed`) the vectors go to a memory-mapped .npy, row i for input row i
    (the `--embeddings` of `qdc select --stream`); rows with qdc_embedding are copied.

    **Example:** `cat data.jsonl | qdc embed - -o embedded.parquet --model static`
    """
    from qdc.embed import embed

    if a.stream:
        return _stream(a, cfg)

    took, reused = [], []

    def timed(df: pl.DataFrame) -> pl.DataFrame:  # the embedding alone, not the reading and writing
        t0 = time.perf_counter()
        reused.append("qdc_embedding" in df.columns and not cfg.force)  # embed() keeps them (and says so)
        out = embed(df, cfg)
        took.append(time.perf_counter() - t0)
        return out

    out = o.transform(a, timed)
    seconds = took[0]
    dim = int(out.schema["qdc_embedding"].size)  # type: ignore[attr-defined]
    speed = round(out.height / max(seconds, 1e-9), 1)
    model = None if reused[0] else cfg.model  # kept vectors came from whatever model made them, not --model
    res = {"rows": out.height, "model": model, "reused": reused[0], "dim": dim, "seconds": round(seconds, 3)}
    what = f"kept the {dim}-d qdc_embedding of {out.height} rows" if reused[0] else f"embedded {out.height} rows"
    how = f" (--model {cfg.model} not run: --force re-embeds)" if reused[0] else f" with {cfg.model} ({dim}-d)"
    res["rows_per_second"] = speed
    show(a, res, f"{what}{how} in {seconds:.1f}s -> {a.output}")


def _stream(a: o.Args, cfg: EmbedConfig) -> None:
    """`qdc embed --stream`: batches embedded into a memory-mapped .npy (Ray workers with --executor ray)."""
    from qdc.embed.stream import stream_embed

    run, io = run_options(a), o.read_inputs(a).io
    streamed(
        a,
        "embed",
        lambda _, est: stream_embed(a.input, a.output, cfg, io, dtype=a.dtype, run=run, on_estimate=est),
        lambda s: f"embedded {s['rows']} rows ({s['dim']}-d {a.dtype}) into {a.output} in {s['seconds']} s",
        rows=False,
    )
