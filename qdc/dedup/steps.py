"""The named steps of `qdc.dedup.dedup`: the pool, one matcher per method, resolve, the removed rows.

A matcher takes the pool and the indices of the rows still alive and returns `Matches`: the rows it
removes, the row each one duplicates and the similarity, plus its figures. `MATCHERS` maps each method
name to its matcher, so `dedup()` is a loop over the configured methods and a new method is one function
and one table entry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from qdc import schema
from qdc.dedup import exact as exact_mod
from qdc.dedup import minhash as minhash_mod
from qdc.dedup import semantic as semantic_mod
from qdc.dedup.config import DedupConfig, Method
from qdc.dedup.groups import components, group_keepers, priority
from qdc.dedup.report import chain_figures


@dataclass
class Pool:
    """Reference rows then input rows, with their texts, ids and keep ranks, and what removed each row."""

    df: pl.DataFrame
    refs: list[pl.DataFrame]
    cfg: DedupConfig
    texts: pl.Series
    ids: list[str]
    ref_src: list[str]
    is_ref: np.ndarray
    rank: np.ndarray
    embed: Callable[[], np.ndarray]
    """Embeds every row (reference rows first) when the semantic matcher first needs vectors."""
    alive: np.ndarray = field(init=False)
    target: np.ndarray = field(init=False)
    method_of: np.ndarray = field(init=False)
    sim: np.ndarray = field(init=False)
    x: np.ndarray | None = None

    def __post_init__(self) -> None:
        total = self.total
        self.alive = np.ones(total, dtype=bool)
        self.target = np.full(total, -1, dtype=np.int64)
        self.method_of = np.full(total, -1, dtype=np.int64)
        self.sim = np.zeros(total, dtype=np.float64)

    @property
    def n_ref(self) -> int:
        return int(self.is_ref.sum())

    @property
    def n_in(self) -> int:
        return self.df.height

    @property
    def total(self) -> int:
        return int(self.is_ref.shape[0])

    @classmethod
    def build(
        cls,
        df: pl.DataFrame,
        refs: Sequence[pl.DataFrame],
        cfg: DedupConfig,
        texts: pl.Series,
        embed: Callable[[], np.ndarray],
    ) -> Pool:
        """The pool of `refs` then `df`; reference rows rank first whatever the keep policy."""
        n_ref = sum(f.height for f in refs)
        ids = [i for f in refs for i in schema.ids(f)] + schema.ids(df)
        ref_src = [
            str(s)
            for f in refs
            for s in (f[schema.SRC].cast(pl.String).to_list() if schema.SRC in f.columns else ["<against>"] * f.height)
        ]
        is_ref = np.arange(n_ref + df.height) < n_ref
        # Reference rows get null values for a best:COLUMN policy.
        rank_frame = df if not refs else pl.concat([df.clear(n_ref), df], how="vertical")
        rank = priority(rank_frame, texts, cfg.keep, n_ref)
        return cls(df, list(refs), cfg, texts, ids, ref_src, is_ref, rank, embed)

    def vectors(self) -> np.ndarray:
        if self.x is None:
            self.x = self.embed()
        return self.x

    def apply(self, found: Matches, method_index: int) -> None:
        """Mark the matched rows removed by this method."""
        self.alive[found.rows] = False
        self.target[found.rows] = found.dup_of
        self.method_of[found.rows] = method_index
        self.sim[found.rows] = found.sim


@dataclass
class Matches:
    """Rows a method removes (pool indices), the row each duplicates, the similarity, and the method's figures."""

    rows: np.ndarray
    dup_of: np.ndarray
    sim: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def _group_matches(pool: Pool, idx: np.ndarray, labels: np.ndarray, pair: minhash_mod.MinHashMatches | None) -> Matches:
    """Every non-survivor of each group (labels over `idx`) matched to its group's survivor by the keep rank."""
    keeper = group_keepers(labels, pool.rank[idx])
    hit = (keeper != np.arange(idx.shape[0])) & ~pool.is_ref[idx]
    if pool.refs and pool.cfg.against_only:
        hit &= pool.is_ref[idx[keeper]]
    members, keepers = np.flatnonzero(hit), keeper[hit]
    sims = np.ones(members.shape[0]) if pair is None else pair.sim_to(members, keepers)
    return Matches(idx[members], idx[keepers], sims)


def match_exact(pool: Pool, idx: np.ndarray) -> Matches:
    """Equal text after the configured normalisation."""
    return _group_matches(pool, idx, exact_mod.exact_labels(pool.texts.gather(idx), pool.cfg.normalize), None)


def match_minhash(pool: Pool, idx: np.ndarray) -> Matches:
    """Connected components of verified MinHash-LSH near-pairs (chains are one group)."""
    cfg = pool.cfg
    params = cfg.minhash_params()
    texts = pool.texts if idx.shape[0] == pool.total else pool.texts.gather(idx)  # no copy when all are alive
    found = minhash_mod.find_pairs(texts, params)
    out = _group_matches(pool, idx, components(idx.shape[0], found.i, found.j), found)
    bands, rows = params.band_rows()
    out.info = {
        "threshold": cfg.threshold,
        "num_perm": cfg.num_perm,
        "ngram": cfg.ngram,
        "bands": bands,
        "rows": rows,
        "verify": cfg.verify,
        "candidate_pairs": found.candidates,
        "duplicate_pairs": int(found.i.shape[0]),
        **chain_figures(out.sim, cfg.threshold),
    }
    return out


def match_semantic(pool: Pool, idx: np.ndarray) -> Matches:
    """SemDeDup on the embeddings of the alive rows."""
    x_all = pool.vectors()
    params = pool.cfg.semantic_params()
    x = x_all if idx.shape[0] == pool.total else x_all[idx]  # no copy when every row is still alive
    sm = semantic_mod.semantic_matches(x, pool.rank[idx], pool.is_ref[idx], params, pool.cfg.against_only)
    hit = np.flatnonzero(sm.removed)
    info = {"eps": pool.cfg.eps, "mode": params.mode, "order": params.order, "clusters": sm.clusters}
    return Matches(idx[hit], idx[sm.match[hit]], sm.sim[hit].astype(np.float64), info)


MATCHERS: dict[Method, Callable[[Pool, np.ndarray], Matches]] = {
    "exact": match_exact,
    "minhash": match_minhash,
    "semantic": match_semantic,
}


def resolve(alive: np.ndarray, target: np.ndarray, n_methods: int) -> np.ndarray:
    """The row each row finally leads to: itself when alive, else its match followed while that match was
    itself removed by a later method."""
    total = alive.shape[0]
    final = np.where(alive, np.arange(total), target)
    for _ in range(n_methods * total + 1):
        moved = ~alive[final]
        if not moved.any():
            break
        final[moved] = target[final[moved]]
    return final


def removed_rows(pool: Pool, final: np.ndarray) -> pl.DataFrame:
    """The removed input rows (input order) with qdc_dup_of, _method, _similarity and _ref."""
    n_ref, cfg = pool.n_ref, pool.cfg
    rows_rm = np.flatnonzero(~pool.alive[n_ref:])
    fin = final[n_ref:][rows_rm].tolist()
    methods = [cfg.methods[k] for k in pool.method_of[n_ref:][rows_rm].tolist()]
    return pool.df[rows_rm].with_columns(
        pl.Series(schema.DUP_OF, [pool.ids[f] for f in fin], dtype=pl.String),
        pl.Series(schema.DUP_METHOD, methods, dtype=pl.String),
        pl.Series(schema.DUP_SIMILARITY, np.round(pool.sim[n_ref:][rows_rm], 6), dtype=pl.Float64),
        pl.Series(schema.DUP_REF, [pool.ref_src[f] if f < n_ref else None for f in fin], dtype=pl.String),
    )
