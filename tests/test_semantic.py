"""The optional `semantic` extra: all-MiniLM-L6-v2 from site-packages, never downloaded.
The model tests skip where the extra is not installed (the default install and CI)."""

from __future__ import annotations

import pytest

from newsdelta.errors import ConfigError
from newsdelta.settings import load_settings
from textdelta import semantic


@pytest.mark.skipif(semantic.available(), reason="the semantic extra is installed here")
def test_asking_for_semantic_matching_without_the_extra_is_a_clear_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"newsdelta\[semantic\]"):
        load_settings(env={"NEWSDELTA_HOME": str(tmp_path), "NEWSDELTA_SEMANTIC": "true"})


def test_semantic_flag_must_be_a_boolean(tmp_path) -> None:
    with pytest.raises(ConfigError, match="NEWSDELTA_SEMANTIC"):
        load_settings(env={"NEWSDELTA_HOME": str(tmp_path), "NEWSDELTA_SEMANTIC": "maybe"})


@pytest.fixture(scope="module")
def scorer(tmp_path_factory: pytest.TempPathFactory):
    if not semantic.available():
        pytest.skip("the semantic extra is not installed (pip install -e '.[semantic]')")
    import os

    os.environ["HF_HOME"] = str(tmp_path_factory.mktemp("hf"))  # an empty cache: the model must come from site-packages
    return semantic.MiniLMScorer()


def test_paraphrase_is_closer_than_a_different_event_and_each_sentence_is_embedded_once(scorer) -> None:
    old = ["Dock workers at the port walked off the job on Wednesday in a dispute over automation.",
           "The carmaker is recalling 212,000 vehicles because of a faulty airbag sensor."]
    new = "Dockers went on strike yesterday over plans to bring in automation at the port."
    paraphrase, unrelated = scorer.similarity(new, old)
    assert paraphrase > 0.5 > unrelated
    encoded = scorer.encoded
    scorer.similarity(new, old)
    assert scorer.encoded == encoded, "a second comparison reuses the cached embeddings"


def test_semantic_matching_keeps_the_seed_verdict(scorer) -> None:
    from tests.conftest import seed_text
    from textdelta import compare, parse_plain_text

    result = compare(parse_plain_text(seed_text("000_")), parse_plain_text(seed_text("002_")), semantic=scorer)
    assert result.same_story
    assert [s.heading for s in result.new_sections if s.heading] == ["Signal Chat Controversy Overshadows Trip"]
