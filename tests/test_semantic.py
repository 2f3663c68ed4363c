"""The sentence model: all-MiniLM-L6-v2 (int8 ONNX) shipped in textdelta/data, never
downloaded, each sentence embedded once per process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import textdelta
from newsdelta.errors import ConfigError
from newsdelta.settings import load_settings
from newsdelta.stages.match import semantic_scorer
from textdelta import semantic


def test_the_model_and_its_tokenizer_ship_with_textdelta() -> None:
    model, tokenizer = semantic.model_files()
    assert model.parent == tokenizer.parent == Path(textdelta.__file__).resolve().parent / "data"
    assert model.name == "minilm-l6-v2-int8.onnx" and tokenizer.name == "tokenizer.json"
    assert model.stat().st_size < 25_000_000, "the int8 file, not a float export"


def test_vectors_are_unit_length_and_a_paraphrase_is_closer_than_another_fact() -> None:
    """The shipped file loads (a fresh model, not the shared one) and reads meaning."""
    model = semantic.MiniLMEmbedder()
    vectors = model.embed(["The minister resigned on Friday.", "The minister stepped down on Friday.",
                           "Shares in the airline rose 6 percent in morning trading.",
                           "Flooding closed the coastal road after two days of heavy rain.",
                           "The shore road was shut by floods following 48 hours of downpours."])
    assert vectors.shape == (5, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3
    assert vectors[3] @ vectors[4] > max(vectors[3] @ vectors[0], vectors[3] @ vectors[2]) + 0.3


def test_a_sentence_gets_the_same_vector_whatever_it_is_batched_with() -> None:
    """Activations are quantized per token, so batch mates (and their padding) change nothing."""
    texts = ["The minister resigned on Friday.", "A much longer sentence about the council's budget, the new bus lanes "
             "and the harbour works that the mayor promised to finish before the summer season begins."]
    alone = semantic.MiniLMEmbedder().embed(texts[:1])
    batched = semantic.MiniLMEmbedder().embed(texts)
    assert float(alone[0] @ batched[0]) > 0.9999


def test_each_sentence_is_embedded_once() -> None:
    model = semantic.MiniLMEmbedder()
    first = model.embed(["A sentence about the harbour.", "Another about the tram."])
    assert model.encoded == 2
    again = model.embed(["Another about the tram.", "A sentence about the harbour.", "A sentence about the harbour."])
    assert model.encoded == 2, "cached vectors are not computed again"
    assert np.array_equal(again[1], first[0]) and np.array_equal(again[0], first[1])


def test_semantic_matching_is_on_by_default_and_can_be_turned_off(tmp_path) -> None:  # type: ignore[no-untyped-def]
    on = load_settings(env={"NEWSDELTA_HOME": str(tmp_path)})
    off = load_settings(env={"NEWSDELTA_HOME": str(tmp_path), "NEWSDELTA_SEMANTIC": "false"})
    assert on.semantic and semantic_scorer(on) is semantic.default_embedder()
    assert not off.semantic and semantic_scorer(off) is None


def test_semantic_flag_must_be_a_boolean(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="NEWSDELTA_SEMANTIC"):
        load_settings(env={"NEWSDELTA_HOME": str(tmp_path), "NEWSDELTA_SEMANTIC": "maybe"})


def test_a_missing_model_file_is_a_clear_configuration_error(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(semantic, "DATA", tmp_path / "nowhere")
    with pytest.raises(semantic.SemanticUnavailable, match="minilm-l6-v2-int8.onnx is missing: reinstall newsdelta"):
        semantic.model_files()
    assert not semantic.available()
    with pytest.raises(ConfigError, match="sentence model is missing: reinstall newsdelta"):
        load_settings(env={"NEWSDELTA_HOME": str(tmp_path)})


def test_a_paraphrase_that_keeps_every_figure_is_old_and_one_with_a_new_figure_is_new() -> None:
    """Paraphrases reword and reformat; the figures they keep, with meaning close, mark a
    restatement that the words and the cosine alone leave new. A new figure stays news."""
    from dataclasses import replace

    from textdelta import Thresholds, compare, parse_plain_text

    old = parse_plain_text("\n".join([
        "Caldera Energy opened the Brenmoor battery plant on Tuesday, the largest in the region.",
        "The plant can store 1,600 megawatt-hours of electricity, enough to supply about 130,000 homes for an evening.",
        "Construction took three years and employed about 900 people at its peak.",
    ]))
    restated = "When full, the batteries hold enough power to cover the evening needs of some 130,000 households."
    fresh = "Caldera said a second site would follow by 2028 at a cost of 410 million pounds."
    new = parse_plain_text("\n".join([
        restated,
        "Caldera Energy switched on its Brenmoor storage site on Tuesday, the biggest the region has seen.",
        fresh,
    ]))
    model = semantic.default_embedder()
    result = compare(old, new, semantic=model)
    assert result.same_story
    assert [p for s in result.new_sections for p in s.paragraphs] == [fresh]
    # The figures rule alone settles it (the rule for sentences naming nothing new would too).
    assert restated not in compare(old, new, replace(Thresholds(), known_meaning=2.0), semantic=model).new_sentences
    without_the_rules = compare(old, new, replace(Thresholds(), fact_meaning=2.0, known_meaning=2.0), semantic=model)
    assert restated in without_the_rules.new_sentences
