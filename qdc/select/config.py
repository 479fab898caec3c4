"""`SelectConfig`: the options of the `select` stage, nested by strategy (as text-dedup nests its methods).

Field defaults come from `qdc.select.defaults` (plain data, no pydantic), which the CLI reads as well.

Common options sit at the top level; knobs that only one strategy reads live in its section
(``iterative``, ``bandit``, ``deita``, ``facility``). The CLI flags and YAML keys of earlier releases were
flat (``alpha: 1.0``, ``rounds: 3``): a flat key that names a section field is moved into its section
before validation, so both spellings load to the same config.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from qdc.config import StageConfig
from qdc.select.defaults import SECTIONS as _SEC
from qdc.select.defaults import STRATEGIES as STRATEGIES
from qdc.select.defaults import TOP as _TOP

_IT, _BA, _DE, _FA = _SEC["iterative"], _SEC["bandit"], _SEC["deita"], _SEC["facility"]
Strategy = Literal["kmq", "iterative", "bandit", "facility", "random", "top", "deita", "kcenter"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IterativeConfig(_Section):
    """`iterative`: rounds of cluster re-weighting by the feedback of the rows selected so far."""

    rounds: int = Field(default=_IT["rounds"], ge=1)
    """Rounds of selection, each re-weighting the clusters by its feedback."""
    cluster_temperature: float = Field(default=_IT["cluster_temperature"], gt=0)
    """Softmax temperature over the clusters' feedback means when re-weighting them (higher = flatter)."""
    explore: float = Field(default=_IT["explore"], ge=0, le=1)
    """Exploration floor mixed into the cluster weights (explore / active clusters each)."""
    feedback_portion: float = Field(default=_IT["feedback_portion"], gt=0, le=1)
    """Share of each round's picks that get feedback (a seeded draw)."""
    effect_size: bool = _IT["effect_size"]
    """Cluster means enter the softmax in units of the feedback's row-level sd (noise between ten-row means
    stays small); false = standardised among themselves (the original: any difference spans ~±1.5 sd)."""


class BanditConfig(_Section):
    """`bandit`: UCB over clusters with a hard scorer budget (after Quad)."""

    max_scored: int | None = Field(default=_BA["max_scored"], ge=1)
    """Hard cap on scorer calls [default: ceil(0.2·B)]."""
    probe: int = Field(default=_BA["probe"], ge=1)
    """Rows scored per pull."""
    block: int | None = Field(default=_BA["block"], ge=1)
    """Rows a pull may accept in block mode, probe included [default: max(probe, ceil(probe·B / max_scored))]."""
    pulls_per_round: int = Field(default=_BA["pulls_per_round"], ge=1)
    """Arms (best UCB scores first) that get a probe in each round."""
    alpha: float = Field(default=_BA["alpha"], ge=0)
    """UCB exploration weight."""
    tau: float | None = _BA["tau"]
    """Acceptance threshold on the normalised score [default: by tau_rule]."""
    tau_rule: Literal["gate", "median"] = _BA["tau_rule"]
    """τ when `tau` is unset: `gate` = the score's junk threshold when the feedback is qdc_quality (else the
    warm-up median); `median` = always the warm-up median (Quad's relative rule)."""
    neighbour_radius: float = Field(default=_BA["neighbour_radius"], ge=0)
    """> 0: a reward also reaches clusters whose centroids lie within this distance, weighted 1 - d/radius."""
    max_rounds: int = Field(default=_BA["max_rounds"], ge=1)
    """Upper bound on pull rounds (the scorer budget or the pool usually ends them first)."""
    accept: Literal["block", "scored_only"] = _BA["accept"]
    """block (the probe and the unscored rest of its block) or scored_only."""
    backfill: bool = _BA["backfill"]
    """Fill the budget left after the last round from under-served clusters (gated junk last)."""
    cluster_cap: float | None = Field(default=_BA["cluster_cap"], gt=0)
    """No cluster takes more than cap x its fair share of the budget (`share`; None = no cap, Quad's rule)."""
    coverage: float = Field(default=_BA["coverage"], ge=0)
    """Weight of the coverage term in the arm score: +coverage·(1 - taken_c / fair_c) for under-served arms."""
    share: Literal["equal", "proportional", "sqrt"] = _BA["share"]
    """A cluster's fair share fair_c of the budget (for its cap, the coverage term and the backfill):
    proportional to its size (Quad), to sqrt(size), or equal."""


class DeitaConfig(_Section):
    """`deita`: score-first with a cosine ceiling."""

    ceiling: float = Field(default=_DE["ceiling"], ge=-1, le=1)
    """Maximum cosine similarity between two selected rows."""


class FacilityConfig(_Section):
    """`facility`: facility location on a sparse k-nearest-neighbour graph."""

    neighbours: int | None = Field(default=_FA["neighbours"], ge=1)
    """Neighbours per row in the similarity graph [default: clamp(ceil(3n/B), 20, 200)]: with fewer than
    about n/B neighbours a pick cannot cover rows far from it, and memory is O(n·neighbours)."""
    quality_weight: float = Field(default=_FA["quality_weight"], ge=0)
    """λ: objective = coverage + λ·(sum of the picks' score percentiles)·(mean coverage gain scale)."""
    epsilon: float = Field(default=_FA["epsilon"], ge=0, lt=1)
    """0 = lazy greedy (exact greedy order); > 0 = stochastic greedy with sample (n/B)·ln(1/ε)."""
    tail_share: float = Field(default=_FA["tail_share"], ge=0, le=1)
    """Share of the budget picked last by k-center's rule on the graph: each of these picks is the row least
    covered by the picks so far (reaches scattered rows that greedy leaves; 0 = pure facility location)."""
    local_scale: int = Field(default=_FA["local_scale"], ge=0)
    """m > 0: similarity exp(-d²/(σ_i·σ_j)) with d the chord distance and σ_i a row's distance to its m-th
    neighbour (self-tuning kernel; a dense region needs more picks to count as covered); 0 = cosine."""


SECTIONS: dict[str, type[_Section]] = {
    "iterative": IterativeConfig,
    "bandit": BanditConfig,
    "deita": DeitaConfig,
    "facility": FacilityConfig,
}


class SelectConfig(StageConfig):
    """Options of the `select` stage (field docs double as the CLI help)."""

    budget: int | float | None = _TOP["budget"]
    """Rows to select (a whole number), or a fraction of the input rows (0 < f < 1)."""
    budget_tokens: int | None = _TOP["budget_tokens"]
    """Alternatively a token budget: each row costs its token count (or `cost_field`)."""
    strategy: Strategy = _TOP["strategy"]
    """kmq, iterative, bandit, facility, random, top, deita or kcenter (`qdc strategies`)."""
    seed: int = _TOP["seed"]
    """Seed of every random step (k-means, draws, tie breaks): same input + seed = same output."""
    score: str | None = _TOP["score"]
    """Score expression over columns, e.g. 'qdc_quality * qdc_complexity' [default: qdc_quality]."""
    weights: dict[str, float] | None = _TOP["weights"]
    """Score as a weighted sum, e.g. {quality: 1, complexity: 0.5}."""
    min_quality: float | None = _TOP["min_quality"]
    """Rows with qdc_quality below this are never selected."""
    dedup: Literal["auto", "exact", "semantic", "off"] = _TOP["dedup"]
    """Duplicates found on the fly: auto = qdc.dedup exact+minhash, exact = qdc.dedup exact (the same
    normalisation as `qdc dedup --method exact`), semantic = exact+minhash then SemDeDup on the embeddings."""
    dedup_eps: float = Field(default=_TOP["dedup_eps"], gt=0.0, lt=1.0)
    """--dedup semantic: rows with cosine > 1 - eps to an earlier eligible row are duplicates."""
    cost_field: str | None = _TOP["cost_field"]
    """Numeric column giving each row's cost for `budget_tokens` [default: word+punctuation tokens]."""
    group_field: str | None = _TOP["group_field"]
    """Field whose groups each get a share of the budget (quota)."""
    quota: str = _TOP["quota"]
    """Per-group share of the budget: equal, proportional, or min:N."""
    # clustering (kmq, iterative, bandit)
    k: int | None = Field(default=_TOP["k"], ge=1)
    """Clusters [default: reuse qdc_cluster, else clamp(round(B / rows_per_cluster), 2, 1024)]."""
    rows_per_cluster: float | None = Field(default=_TOP["rows_per_cluster"], gt=0)
    """Budget rows per cluster when K is not given [default: 3 for kmq and iterative (docs/select.md: chosen on
    the tuning proxies and the 8-task mix), 10 for bandit, whose probes take 10 rows; the paper: 10]."""
    niter: int = Field(default=_TOP["niter"], ge=1)
    """k-means iterations when clusters are computed here."""
    allocation: Literal["equal", "proportional", "sqrt"] = _TOP["allocation"]
    """Budget per cluster: equal (water-filled), proportional or sqrt."""
    within: Literal["balanced", "softmax", "top", "random"] = _TOP["within"]
    """Inside a cluster: balanced = a seeded Gumbel draw with the score as a mild preference scaled by its
    reliability (and closeness to the centre when `representative` > 0); softmax = the paper's p ∝ exp(z/T);
    top; random."""
    temperature: float = _TOP["temperature"]
    """within=softmax: temperature on the standardised score (0.2 ≈ the original's peakedness)."""
    representative: float = Field(default=_TOP["representative"], ge=0)
    """within=balanced: weight of closeness to the cluster centre (standardised) in the draw."""
    score_weight: float = Field(default=_TOP["score_weight"], ge=0)
    """within=balanced: weight of the standardised score, times its reliability (1 - |rank corr. with length|)."""
    junk_gate: bool = _TOP["junk_gate"]
    """Rows with qdc_quality below qdc.quality.JUNK_THRESHOLD are taken only when nothing else fills the budget
    (that part off by itself when the scorer flags more than 15% of the pool: the threshold does not fit that
    data); so are rows a defect signal that flags at most 15% of the pool (on plain text `truncation` at most
    5%) puts below it, answers with an echo or soup defect, answers outscored by another answer to the same
    prompt, plain-text fragments (`qdc.select.robust.junk_parts`), and, with `junk_region`, whole junk clusters."""
    junk_region: float = Field(default=_TOP["junk_region"], gt=0)
    """kmq, iterative, bandit (with the junk gate): a cluster whose rows are at least this share flagged as junk
    is held back whole, even when the row gate has opened itself (above 1: off)."""
    cluster_quality: bool = _TOP["cluster_quality"]
    """Scale cluster shares by min(1, 2·mean score percentile) so junk-only clusters get ~nothing."""
    diversity_weight: float | None = _TOP["diversity_weight"]
    """0 = pure score (top-B), 1 = pure coverage (uniform over clusters); kmq and iterative."""
    # feedback (iterative, bandit)
    feedback: str | None = _TOP["feedback"]
    """Feedback expression for iterative/bandit [default: the score]; 'a - b' is the gap mode."""
    gap: tuple[str, str] | None = _TOP["gap"]
    """Two columns (reference, candidate): feedback = reference - candidate (the paper's reward gap)."""
    scorer: str | None = _TOP["scorer"]
    """Name of a qdc.quality scorer (e.g. judge) used as feedback; called only on selected/probed rows."""
    # per-strategy sections
    iterative: IterativeConfig = IterativeConfig()
    bandit: BanditConfig = BanditConfig()
    deita: DeitaConfig = DeitaConfig()
    facility: FacilityConfig = FacilityConfig()

    @model_validator(mode="before")
    @classmethod
    def _flat_keys(cls, data: Any) -> Any:
        """Move flat keys of earlier releases (alpha, rounds, ceiling, ...) into their sections."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for section, model in SECTIONS.items():
            moved = {key: out.pop(key) for key in list(out) if key in model.model_fields}
            if moved:
                current = out.get(section) or {}
                if isinstance(current, BaseModel):
                    current = current.model_dump()
                out[section] = {**dict(current), **moved}
        return out

    @field_validator("budget")
    @classmethod
    def _budget(cls, v: int | float | None) -> int | float | None:
        if v is None:
            return v
        if isinstance(v, float) and v >= 1:
            if v == 1.0:
                raise ValueError("1.0 is ambiguous (one row, or every row?): give 1 for one row, or a fraction below 1")
            if not v.is_integer():
                raise ValueError("a budget >= 1 must be a whole number of rows")
            return int(v)
        if v <= 0:
            raise ValueError("must be positive")
        return v

    @field_validator("quota")
    @classmethod
    def _quota(cls, v: str) -> str:
        if v in ("equal", "proportional"):
            return v
        if v.startswith("min:") and v[4:].strip().isdigit():
            return v
        raise ValueError("expected equal, proportional or min:N")

    @model_validator(mode="after")
    def _check(self) -> SelectConfig:
        if (self.budget is None) == (self.budget_tokens is None):
            raise ValueError("give exactly one of budget (rows or fraction) and budget_tokens")
        if self.budget_tokens is not None and self.budget_tokens < 0:
            raise ValueError("budget_tokens must be >= 0")
        if self.diversity_weight is not None:
            if not 0 <= self.diversity_weight <= 1:
                raise ValueError("diversity_weight must be in [0, 1]")
            if self.strategy not in ("kmq", "iterative"):
                raise ValueError("diversity_weight applies to kmq and iterative only")
        if self.score is not None and self.weights:
            raise ValueError("give score or weights, not both")
        return self


def default_of(name: str) -> Any:
    """The config default of a flat option name (a top-level field or a section field): the CLI reads it."""
    if name in SelectConfig.model_fields:
        return SelectConfig.model_fields[name].default
    for model in SECTIONS.values():
        if name in model.model_fields:
            return model.model_fields[name].default
    raise KeyError(name)


# The papers' kmq (Diversify and Conquer): softmax of the score inside clusters at the peakedness of the
# original, equal cluster shares, no junk gate, K = B/10. Reachable with these options (docs/select.md).
PAPER_KMQ: dict[str, Any] = {
    "within": "softmax",
    "temperature": 0.2,
    "junk_gate": False,
    "rows_per_cluster": 10,
    "allocation": "equal",
    "cluster_quality": False,
}
