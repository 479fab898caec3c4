"""The bundled all-MiniLM-L6-v2 on ONNX Runtime (`--model minilm-onnx`, `minilm-onnx-int8`).

The transformer is exported once, offline, from the package's weights with torch.onnx into the qdc cache
(like the static model); int8 is ONNX Runtime's dynamic quantisation of that export. At run time neither
torch nor transformers is imported: the `tokenizers` fast tokenizer of the model folder, the ONNX graph,
then mean pooling over the attention mask and L2 normalisation in numpy, as sentence-transformers does.
Texts are truncated to 256 tokens (the model's max_seq_length) and batched longest first.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qdc.embed.base import _dir_identity, bundled_model_path, l2_normalise, quiet_model_loading
from qdc.errors import MissingDependencyError
from qdc.progress import notice

ONNX_MODEL = "minilm-onnx"
ONNX_INT8_MODEL = "minilm-onnx-int8"
MAX_TOKENS = 256
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def onnx_model_dir(cache_dir: Path) -> Path:
    return cache_dir / "models" / "minilm-l6-onnx"


def build_onnx_model(target: Path) -> None:
    """Export the bundled MiniLM to target/model.onnx and quantise it to target/model.int8.onnx (once)."""
    notice(f"exporting the bundled MiniLM to ONNX once (about 30 s) into {target}")
    quiet_model_loading(offline=True)
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:  # pragma: no cover - torch and transformers come with sentence-transformers
        raise MissingDependencyError(f"exporting the ONNX model needs torch and transformers ({exc})") from None
    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    bert = AutoModel.from_pretrained(str(bundled_model_path())).eval()

    class Hidden(torch.nn.Module):
        """The transformer's last hidden state from three positional inputs (what the exporter traces)."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            return self.bert(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state

    example = (
        torch.ones((2, 8), dtype=torch.long),
        torch.ones((2, 8), dtype=torch.long),
        torch.zeros((2, 8), dtype=torch.long),
    )
    axes = {name: {0: "batch", 1: "tokens"} for name in _INPUTS}
    import logging
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's tracer warnings are about code paths we do not take
        torch.onnx.export(
            Hidden(),
            example,
            str(tmp / "model.onnx"),
            input_names=list(_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={**axes, "last_hidden_state": {0: "batch", 1: "tokens"}},
            opset_version=17,
            dynamo=False,
        )
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_dynamic logs a pre-processing hint as a warning
    try:
        quantize_dynamic(str(tmp / "model.onnx"), str(tmp / "model.int8.onnx"), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    try:
        os.replace(tmp, target)
    except OSError:  # another process finished first: use theirs
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


class OnnxEmbedder:
    """all-MiniLM-L6-v2 through ONNX Runtime on the CPU (fp32 export, or its int8 quantisation)."""

    def __init__(self, cache_dir: Path, int8: bool = False, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError:
            raise MissingDependencyError(
                "--model minilm-onnx needs onnxruntime (and onnx to export): pip install onnxruntime onnx"
            ) from None
        folder = onnx_model_dir(cache_dir)
        if not (folder / "model.int8.onnx").exists():
            build_onnx_model(folder)
        path = folder / ("model.int8.onnx" if int8 else "model.onnx")
        self.identity = f"onnx{'-int8' if int8 else ''}:all-MiniLM-L6-v2:{_dir_identity(bundled_model_path())}"
        self.dim = 384
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or 0  # 0: ONNX Runtime's default (one per core)
        opts.log_severity_level = 3
        self._session: Any = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self._tokenizer: Any = Tokenizer.from_file(str(bundled_model_path() / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")
        step = max(batch_size, 1)
        for s in range(0, len(order), step):
            rows = order[s : s + step]
            width = int(lengths[rows].max())
            ids = np.zeros((rows.size, width), dtype=np.int64)
            types = np.zeros((rows.size, width), dtype=np.int64)
            mask = np.zeros((rows.size, width), dtype=np.int64)
            for k, r in enumerate(rows.tolist()):
                e = encodings[r]
                n = len(e.ids)
                ids[k, :n] = e.ids
                types[k, :n] = e.type_ids
                mask[k, :n] = 1
            hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
            m = mask[:, :, None].astype(np.float32)
            out[rows] = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        return l2_normalise(out)
