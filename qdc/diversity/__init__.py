"""Dataset-level diversity figures (`qdc diversity`): embedding Vendi and its q-orders, MPCD, lexical
measures, cluster spread, optionally per group.

JSON keys (cli.md): n, vendi (q = 1, cosine kernel on embeddings), vendi_q {"0.1", "0.5", "1", "2", "inf"},
distinct_1, distinct_2, compression_ratio; and also compression_sample_bytes (bytes deflated for the ratio when it
is measured on a stated sample of a large text, else null), distinct_3, entropy_1, entropy_2 (nats), self_bleu
(BLEU-3 on a seeded sample), ngram_vendi (n = 1..4 kernel on a seeded sample), mpcd, tokens, and, when
rows carry qdc_cluster, clusters / cluster_entropy / cluster_entropy_norm / effective_clusters /
cluster_coverage. With a group field, `groups` maps each value to the same figures for its rows.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Literal

import numpy as np
import polars as pl

from qdc import schema
from qdc.config import StageConfig
from qdc.diversity.bleu import self_bleu
from qdc.diversity.compress import SAMPLE_BYTES, compression
from qdc.diversity.embedding import cluster_spread, mean_pairwise_cosine_distance, mpcd_from_sum
from qdc.diversity.lexical import tokenize
from qdc.diversity.ngrams import (
    TokenHashes,
    lexical_figures,
    ngram_vendi_hashed,
    token_hashes,
)
from qdc.diversity.vendi import (
    ORDERS,
    _one_blas_thread,
    gram_and_sum,
    order_key,
    vendi_embeddings,
    vendi_from_eigenvalues,
)
from qdc.embed import FIELD_COLUMNS, EmbedConfig, Embedder, ensure_embeddings
from qdc.errors import ConfigError
from qdc.gcpause import no_gc

__all__ = ["DiversityConfig", "diversity_report"]


class DiversityConfig(StageConfig):
    """Options of the diversity report."""

    field: Literal["text", "prompt", "response"] = "text"
    """Which part of each row the lexical measures read."""
    embeddings: bool = True
    """Compute the embedding measures (embedding rows that lack qdc_embedding)."""
    sample: int = 500
    """Rows (seeded sample) for self-BLEU and the n-gram Vendi score, whose cost grows as rows^2."""
    bleu_n: int = 3
    ngram_ns: tuple[int, ...] = (1, 2, 3, 4)
    compression_sample: int | None = SAMPLE_BYTES
    """Above twice this many bytes of text the compression ratio is measured on a stated sample of this
    many bytes (evenly spaced 64 KiB blocks; JSON `compression_sample_bytes`); None compresses every byte."""
    group_field: str | None = None
    """Also report the figures for each value of this field."""
    max_groups: int = 50
    seed: int = 0


def _sample(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded sample without replacement (all rows when n <= size)."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def _embedding_figures(x: np.ndarray) -> dict[str, Any]:
    """Vendi (all orders) and MPCD; one pass over the rows gives both when d < n."""
    n, d = x.shape
    if d >= n:
        vq = vendi_embeddings(x, ORDERS)
        mpcd = mean_pairwise_cosine_distance(x)
    else:
        gram, total = gram_and_sum(x, dtype=np.float32)
        vq = vendi_from_eigenvalues(np.linalg.eigvalsh(gram), n, d, ORDERS)
        mpcd = mpcd_from_sum(total, float(np.trace(gram)) * n, n)
    return {"vendi": vq[1.0], "vendi_q": {order_key(q): v for q, v in vq.items()}, "mpcd": mpcd}


def _side_figures(x: np.ndarray | None, texts: pl.Series, idx: np.ndarray, cfg: DiversityConfig) -> dict[str, Any]:
    """The figures that need no token hashes (embedding Vendi and MPCD, compression ratio, self-BLEU on the
    sample): computed on a second thread while the first hashes tokens and counts n-grams. The big steps
    on both sides run in numpy, BLAS, zlib and polars, which release the GIL, so on two cores they overlap."""
    out: dict[str, Any] = {}
    if x is not None and x.shape[0]:
        out.update(_embedding_figures(x))
    out["compression_ratio"], out["compression_sample_bytes"] = compression(texts, 1, cfg.compression_sample)
    out["self_bleu"] = self_bleu([tokenize(t) for t in texts.gather(idx).to_list()], cfg.bleu_n)
    return out


def _ngram_vendi(tok: TokenHashes, idx: np.ndarray, cfg: DiversityConfig) -> float:
    """The n-gram Vendi score (q = 1) of the sampled rows."""
    return ngram_vendi_hashed(tok.subset(idx), cfg.ngram_ns)[1.0] if idx.size else 0.0


def _figures(
    texts: pl.Series,
    x: np.ndarray | None,
    labels: np.ndarray | None,
    k: int | None,
    cfg: DiversityConfig,
    tok: TokenHashes | None = None,
) -> tuple[dict[str, Any], TokenHashes]:
    """Every figure for one set of rows (and the token hashes, computed here unless given)."""
    from concurrent.futures import ThreadPoolExecutor

    idx = _sample(len(texts), cfg.sample, cfg.seed)
    # One BLAS thread for both threads' work, set here and held until both are done: threadpoolctl's limit is
    # process-wide, so a limit entered and left by one thread (gram_dual's) would leave the other thread's
    # n-gram Vendi on 1 or 2 BLAS threads by timing, and its value differs in the last digits.
    with _one_blas_thread(), ThreadPoolExecutor(1) as pool:
        side = pool.submit(_side_figures, x, texts, idx, cfg)
        tok = tok if tok is not None else token_hashes(texts)
        # The trigram count and the n-gram Vendi score are queued behind the side figures; when this thread
        # is done with the counts it takes each of them that the second thread has not begun (in that order).
        tasks: list[Callable[[], Any]] = [
            partial(lexical_figures, tok, ("distinct_3",)),
            partial(_ngram_vendi, tok, idx, cfg),
        ]
        queued = [pool.submit(task) for task in tasks]
        lexical = lexical_figures(tok, ("counts",))
        mine: list[Any] = [task() if fut.cancel() else None for task, fut in zip(tasks, queued, strict=True)]
        trigrams, nvendi = (m if fut.cancelled() else fut.result() for m, fut in zip(mine, queued, strict=True))
        lexical.update(trigrams)
        side_out = side.result()
    out: dict[str, Any] = {"n": len(texts)}
    out.update({key: side_out[key] for key in ("vendi", "vendi_q", "mpcd") if key in side_out})
    out.update({key: lexical[key] for key in ("distinct_1", "distinct_2", "distinct_3")})
    out["compression_ratio"] = side_out["compression_ratio"]
    out["compression_sample_bytes"] = side_out["compression_sample_bytes"]
    out.update({key: lexical[key] for key in ("entropy_1", "entropy_2")})
    out["self_bleu"] = side_out["self_bleu"]
    out["ngram_vendi"] = nvendi
    out["sample"] = int(idx.size)
    out["tokens"] = lexical["tokens"]
    if labels is not None:
        out.update(cluster_spread(labels, k))
    rounded = {key: (round(v, 6) if isinstance(v, float) else v) for key, v in out.items()}
    if "vendi_q" in out:
        rounded["vendi_q"] = {q: round(v, 6) for q, v in out["vendi_q"].items()}
    return rounded, tok


def diversity_report(
    df: pl.DataFrame,
    cfg: DiversityConfig | None = None,
    embed_cfg: EmbedConfig | None = None,
    embedder: Embedder | None = None,
) -> dict[str, Any]:
    """The figures for the whole frame (and per group when cfg.group_field is set)."""
    cfg = cfg or DiversityConfig()
    if cfg.sample < 2:
        raise ConfigError(f"diversity sample must be at least 2 (got {cfg.sample})")
    if cfg.compression_sample is not None and cfg.compression_sample < 1 << 16:
        raise ConfigError(f"compression_sample must be at least 65536 bytes or null (got {cfg.compression_sample})")
    column = FIELD_COLUMNS[cfg.field]
    schema.require_columns(df, column)
    x: np.ndarray | None = None
    if cfg.embeddings and df.height:
        df, x = ensure_embeddings(df, embed_cfg, embedder)
    texts = df[column].cast(pl.String).fill_null("")
    labels = k = None
    if schema.CLUSTER in df.columns:
        labels = df[schema.CLUSTER].fill_null(-1).to_numpy().astype(np.int64)
        k = int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 0
    # No cyclic garbage collection meanwhile: self-BLEU's n-gram tuples set off full collections of the whole
    # heap (CLI, polars, numpy: 0.12 s at 100k), and nothing here makes reference cycles. (`_figures` holds
    # BLAS to one thread: small calls, where spin-waiting threads cost more than they gave on 2 busy cores.)
    with no_gc():
        report, tok = _figures(texts, x, labels, k, cfg)
    if cfg.group_field is not None:
        if cfg.group_field not in df.columns:
            raise ConfigError(f"--group-field {cfg.group_field!r}: no such field in the rows")
        keys = df[cfg.group_field].cast(pl.String).fill_null("(none)").to_numpy()
        values = sorted(set(keys.tolist()))
        if len(values) > cfg.max_groups:
            raise ConfigError(
                f"--group-field {cfg.group_field!r} has {len(values)} values; at most "
                f"{cfg.max_groups} are reported (raise max_groups)"
            )
        groups = {}
        for value in values:
            rows = np.flatnonzero(keys == value)
            groups[value] = _figures(
                texts.gather(rows),
                None if x is None else x[rows],
                None if labels is None else labels[rows],
                k,
                cfg,
                tok.subset(rows),
            )[0]
        report["group_field"] = cfg.group_field
        report["groups"] = groups
    return report
