"""Options of the `dedup` stage (`DedupConfig`) and the per-method parameters it derives."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from qdc import schema
from qdc.config import StageConfig
from qdc.dedup import minhash as minhash_mod
from qdc.dedup import semantic as semantic_mod
from qdc.dedup.groups import parse_keep
from qdc.dedup.normalize import ALL_STEPS, Step
from qdc.errors import ConfigError

Method = Literal["exact", "minhash", "semantic"]
METHODS: tuple[Method, ...] = ("exact", "minhash", "semantic")
FIELD_COLUMNS = schema.PART_COLUMNS


class DedupConfig(StageConfig):
    """Options of the `dedup` stage. The default (exact, then MinHash at Jaccard 0.8) needs no model."""

    methods: tuple[Method, ...] = ("exact", "minhash")
    """Methods, applied in this order: exact, minhash, semantic (comma-separated)."""
    keep: str = "first"
    """Which row of a group survives: first, longest or best:COLUMN (ties: the earlier row)."""
    field: Literal["text", "prompt", "response"] = "text"
    """Part of each row to compare (and to embed for the semantic method)."""
    normalize: tuple[Step, ...] = ALL_STEPS
    """Exact-match normalisation steps: nfkc, case, punctuation, whitespace (comma-separated); none compares raw
    text."""
    threshold: float = Field(default=0.8, gt=0.0, lt=1.0)
    """MinHash: Jaccard similarity of word n-gram sets at which two rows are duplicates."""
    num_perm: int = Field(default=128, ge=8, le=1024)
    """MinHash permutations."""
    ngram: int = Field(default=3, ge=1, le=32)
    """Words per shingle: 3 keeps one changed word in a 50-word row above Jaccard 0.8 (5-grams do not)."""
    bands: int | None = Field(default=None, ge=1)
    """LSH bands [default: derived from threshold and num_perm]."""
    rows: int | None = Field(default=None, ge=1)
    """Rows per LSH band [default: derived from threshold and num_perm]."""
    verify: bool = True
    """Check each LSH candidate pair by its true Jaccard (else by the signature estimate)."""
    backend: Literal["rensa", "datasketch"] = "rensa"
    threads: int | None = Field(default=None, ge=1, le=64)
    """MinHash: chunks of rows indexed at once [default: 2 where 2 CPUs are usable]; same result for any value."""
    eps: float = Field(default=0.05, gt=0.0, lt=1.0)
    """Semantic: rows with cosine > 1 - eps to an earlier row of their cluster are duplicates."""
    semantic_mode: Literal["faithful", "greedy"] = "faithful"
    """faithful (SemDeDup: compare with every earlier row) or greedy (only with rows still kept)."""
    semantic_order: Literal["auto", "hard", "easy", "keep"] = "auto"
    """auto = hard (SemDeDup's keep-the-farthest-from-centroid) with keep=first, else the keep policy."""
    clusters: int | None = Field(default=None, ge=1)
    """Semantic k-means clusters; default 1 (global search) up to global_max_rows rows, else sqrt(n)."""
    global_max_rows: int = Field(default=10_000, ge=1)
    against_only: bool = False
    """With reference sets: remove only rows that duplicate a reference row."""
    seed: int = 0
    top_groups: int = Field(default=5, ge=0)

    @field_validator("methods", "normalize", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip() and v.strip() != "none")
        return value

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one method (exact, minhash, semantic)")
        if len(set(value)) != len(value):
            raise ValueError("a method is listed twice")
        return value

    @field_validator("keep")
    @classmethod
    def _keep(cls, value: str) -> str:
        try:
            parse_keep(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _lsh_fits(self) -> DedupConfig:
        """bands x rows must fit in the signature (`--set bands=1000` indexed past 128 hash values)."""
        b, r = self.bands or 1, self.rows or 1
        if b * r > self.num_perm:
            raise ValueError(f"bands x rows ({b} x {r}) must not exceed num_perm ({self.num_perm})")
        return self

    def minhash_params(self) -> minhash_mod.MinHashParams:
        steps = tuple(s for s in self.normalize if s in ("nfkc", "case"))
        return minhash_mod.MinHashParams(
            self.threshold,
            self.num_perm,
            self.ngram,
            self.bands,
            self.rows,
            self.verify,
            self.seed,
            self.backend,
            steps,
            self.threads,
        )

    def semantic_params(self) -> semantic_mod.SemanticParams:
        order = self.semantic_order
        if order == "auto":
            order = "hard" if parse_keep(self.keep)[0] == "first" else "keep"
        return semantic_mod.SemanticParams(
            self.eps, self.semantic_mode, order, self.clusters, self.global_max_rows, self.seed
        )
