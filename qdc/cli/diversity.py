"""`qdc diversity`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import show, table

if TYPE_CHECKING:
    from qdc.diversity import DiversityConfig

ROWS = (
    ("n", "rows"),
    ("vendi", "Vendi (q=1, embeddings)"),
    ("vendi_q.0.1", "Vendi q=0.1"),
    ("vendi_q.0.5", "Vendi q=0.5"),
    ("vendi_q.2", "Vendi q=2"),
    ("vendi_q.inf", "Vendi q=inf"),
    ("mpcd", "mean pairwise cosine distance"),
    ("distinct_1", "distinct-1"),
    ("distinct_2", "distinct-2"),
    ("distinct_3", "distinct-3"),
    ("compression_ratio", "compression ratio (higher = redundant)"),
    ("entropy_1", "unigram entropy (nats)"),
    ("entropy_2", "bigram entropy (nats)"),
    ("self_bleu", "self-BLEU-3 (higher = redundant)"),
    ("ngram_vendi", "n-gram Vendi (sample)"),
    ("effective_clusters", "effective clusters"),
    ("cluster_coverage", "cluster coverage"),
)


def _get(report: dict[str, Any], key: str) -> str:
    v = report.get("vendi_q", {}).get(key.split(".", 1)[1]) if key.startswith("vendi_q.") else report.get(key)
    if v is None:
        return "-"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


@o.command(
    app,
    "diversity",
    (
        o.INPUT,
        o.K("--group-field", str, "group_field"),
        o.Opt(
            "--no-embeddings", bool, False, "Skip Vendi and MPCD: no model is loaded.", "embeddings", convert=o.negate
        ),
        o.SEED,
        *o.EMBED,
        *o.IO,
        o.JSON,
    ),
    config="qdc.diversity:DiversityConfig",
)
def diversity_cmd(a: o.Args, cfg: DiversityConfig) -> None:
    """Dataset-level diversity: Vendi score and its q-orders, MPCD, distinct-n, compression ratio, n-gram
    entropy, self-BLEU, n-gram Vendi, and cluster spread when rows carry `qdc_cluster`.

    Rows without `qdc_embedding` are embedded first. `--json` prints one JSON document on stdout (keys
    n, vendi, vendi_q, distinct_1, distinct_2, compression_ratio, ...); without it a table goes to stderr
    and stdout stays empty.

    **Example:** `qdc diversity selected.jsonl --json --group-field category`
    """
    from qdc.diversity import diversity_report

    inputs = o.read_inputs(a, "-")
    report = diversity_report(inputs.read(a.input), cfg, o.embedding(a))
    inputs.finish()
    groups = report.get("groups", {})
    shown = list(groups)[:8]
    rows = []
    for key, label in ROWS:
        if _get(report, key) != "-" or any(_get(v, key) != "-" for v in groups.values()):
            rows.append((label, _get(report, key), *(_get(groups[g], key) for g in shown)))
    more = f"... and {len(groups) - 8} more groups (use --json for all)" if len(groups) > 8 else None
    show(a, report, table(f"diversity of {report['n']} rows", rows, ("measure", "all", *map(str, shown)), more))
