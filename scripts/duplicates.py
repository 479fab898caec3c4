"""Duplicated code in qdc/: windows of N consecutive non-trivial lines that occur in more than one place.

Lines are stripped; blank lines, comments, docstring-only lines, imports and lone brackets are skipped, so
what remains is logic. Typer option declarations (`Annotated[`, `typer.Option(`) are reported apart,
because the CLI repeats them by design until the config-first CLI (issue 16, step 5).

    .venv/bin/python scripts/duplicates.py [--window 6] [--root qdc]
"""

from __future__ import annotations

import argparse
import hashlib
from collections import defaultdict
from pathlib import Path

SKIP_PREFIXES = ("#", "import ", "from ", '"""', "'''", "@")
TRIVIAL = {"", ")", "]", "}", "),", "],", "},", "else:", "try:", "finally:", "return", "pass", "...", ") -> None:"}


def _lines(path: Path) -> list[tuple[int, str]]:
    out = []
    for no, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if line in TRIVIAL or line.startswith(SKIP_PREFIXES):
            continue
        out.append((no, line))
    return out


def find(root: Path, window: int) -> dict[str, list[tuple[str, int]]]:
    """Window hash -> [(file, first line)], only for windows seen in more than one place."""
    seen: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for path in sorted(root.rglob("*.py")):
        lines = _lines(path)
        for i in range(len(lines) - window + 1):
            chunk = "\n".join(text for _, text in lines[i : i + window])
            seen[hashlib.sha1(chunk.encode()).hexdigest()].append((str(path), lines[i][0]))
    return {k: v for k, v in seen.items() if len(v) > 1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--window", type=int, default=6)
    ap.add_argument("--root", default="qdc")
    args = ap.parse_args()
    dups = find(Path(args.root), args.window)
    # Overlapping windows of one repeated block collapse into the block's first window per file pair.
    blocks: dict[tuple[str, ...], list[list[tuple[str, int]]]] = defaultdict(list)
    for places in dups.values():
        blocks[tuple(sorted({f for f, _ in places}))].append(places)
    cli = {k: v for k, v in blocks.items() if all("/cli/" in f for f in k)}
    other = {k: v for k, v in blocks.items() if k not in cli}
    print(
        f"{len(dups)} repeated {args.window}-line windows; file groups: {len(other)} outside the CLI, {len(cli)} CLI-only"
    )
    for _files, hits in sorted(other.items(), key=lambda kv: -len(kv[1])):
        first = sorted(hits[0])
        print(f"  {len(hits):3d} windows  " + ", ".join(f"{f}:{line}" for f, line in first))


if __name__ == "__main__":
    main()
