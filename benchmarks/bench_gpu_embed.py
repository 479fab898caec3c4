"""GPU embedding benchmark (issue 7): rows/s of qdc's embedder on CUDA against the CPU, same rows.

Runs on a machine with a GPU (and without one, where it reports the CPU and the fallback notice). It loads
qdc's `SentenceTransformerEmbedder` straight from qdc/embed/models.py, so the GPU machine needs only torch
and sentence-transformers (not polars or faiss).

Run: python benchmarks/bench_gpu_embed.py --model MODEL_DIR --texts TEXTS.jsonl [--out results.json]
Locally: .venv/bin/python benchmarks/bench_gpu_embed.py (the bundled model, 5,000 GPTeacher rows).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load_models_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("qdc_embed_models", ROOT / "qdc" / "embed" / "models.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="default", help="model folder (default: the bundled MiniLM)")
    ap.add_argument("--texts", default=None, help="JSONL with a 'text' field (default: 5,000 GPTeacher rows)")
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    import torch

    models = load_models_module()
    if args.texts:
        lines = Path(args.texts).read_text(encoding="utf-8").splitlines()
        texts = [json.loads(line)["text"] for line in lines if line.strip()]
    else:
        from benchmarks.bench_embed import load_texts

        texts = load_texts(args.rows)
    texts = texts[: args.rows]
    gpu = torch.cuda.is_available()
    info = {
        "rows": len(texts),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if gpu else None,
        "python": platform.python_version(),
    }
    results: dict[str, object] = {"info": info, "runs": []}

    def bench(device: str, batch: int, repeats: int) -> None:
        emb = models.SentenceTransformerEmbedder(args.model, device=device)
        model = emb._load()
        model.float()  # qdc runs fp32; a carried fp16 copy of the weights is upcast here
        emb.encode(texts[: batch * 2], batch)  # warm-up (CUDA context, kernels)
        times = []
        for _ in range(repeats):
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            x = emb.encode(texts, batch)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        run = {
            "device": device,
            "resolved": str(model.device),
            "batch_size": batch,
            "rows_per_s": len(texts) / med,
            "times": times,
            "dim": int(x.shape[1]),
        }
        results["runs"].append(run)  # type: ignore[union-attr]
        print(json.dumps(run), flush=True)

    if gpu:
        for batch in (64, 256, 512):
            bench("cuda", batch, args.repeats)
    else:
        notices: list[str] = []
        models.notice = notices.append  # capture the fallback notice
        emb = models.SentenceTransformerEmbedder(args.model, device="cuda")
        emb._load()
        results["fallback_notice"] = notices
        print("no GPU:", notices, flush=True)
    bench("cpu", 64, 1 if gpu else args.repeats)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
