"""Settings are declared once: the README's table is made from the declarations, and the config
file and the environment are read and checked through them."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from newsdelta.errors import ConfigError
from newsdelta.settings import Settings, load_settings, settings_table
from tests.conftest import ROOT


def test_the_readme_settings_table_is_the_one_the_declarations_make() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    start, end = "<!-- settings-table -->\n", "\n<!-- /settings-table -->"
    assert start in readme and end in readme, "the README marks where the settings table goes"
    documented = readme.split(start, 1)[1].split(end, 1)[0].strip()
    assert documented == settings_table(), "regenerate: python -c 'from newsdelta.settings import settings_table; print(settings_table())'"


def test_every_setting_has_help_and_a_way_to_be_set() -> None:
    for f in fields(Settings):
        assert len(f.metadata["help"]) > 5, f"{f.name} is undocumented"
        assert f.metadata["env"] or f.metadata["toml"] or f.name == "feeds", f"{f.name} cannot be set"
        assert f"`{f.name}`" in settings_table()


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, "utf-8")
    return path


@pytest.mark.parametrize(("text", "expected"), [
    ('[newsdeta]\nconcurrency = 4\n', "unknown section [newsdeta]"),
    ('[alert.slack]\nsecret_block = "x"\n', "unknown section [alert]"),
    ('[newsdelta]\nconcurency = 4\n', "unknown setting [newsdelta] concurency"),
    ('[alerts.email]\nhots = "smtp.example.com"\n', "unknown setting [alerts.email] hots"),
    ('[newsdelta]\nconcurrency = "eight"\n', "[newsdelta] concurrency: expected a whole number, got 'eight'"),
    ('[newsdelta]\nper_host_delay_s = "fast"\n', "[newsdelta] per_host_delay_s: expected a number, got 'fast'"),
    ('[newsdelta]\ntimeout_s = 0\n', "[newsdelta] timeout_s: must be more than 0"),
    ('[newsdelta]\nsemantic = "maybe"\n', "[newsdelta] semantic: expected true or false"),
    ('[alerts.email]\ntls = "tls1.3"\n', "[alerts.email] tls: expected starttls, ssl or none"),
    ('[[feeds]]\nurl = "https://a.example/feed"\noutlte = "A"\n', "[[feeds]] #1: unknown key outlte"),
    ('[[feeds]]\nurl = "https://a.example/feed"\ninterval_minutes = "hourly"\n', "[[feeds]] #1 interval_minutes: expected a number"),
    ('[[feeds]]\noutlet = "A"\n', "[[feeds]] #1: needs a url"),
    ('[alerts.slack]\nwebhook_url = "https://hooks.slack.com/services/T/B/x"\n', "secrets are not read from the config file"),
    ('[newsdelta\n', "cannot read config file"),
])
def test_a_config_mistake_is_an_error_that_says_where(tmp_path: Path, text: str, expected: str) -> None:
    path = config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={"NEWSDELTA_HOME": str(tmp_path)})
    assert expected in str(caught.value)
    assert str(path) in str(caught.value), "the file is named"


@pytest.mark.parametrize(("var", "value", "expected"), [
    ("NEWSDELTA_CONCURRENCY", "eight", "NEWSDELTA_CONCURRENCY: expected a whole number, got 'eight'"),
    ("NEWSDELTA_PER_HOST_DELAY_S", "fast", "NEWSDELTA_PER_HOST_DELAY_S: expected a number"),
    ("NEWSDELTA_SMTP_PORT", "0", "NEWSDELTA_SMTP_PORT: must be more than 0"),
    ("NEWSDELTA_SMTP_TLS", "yes", "NEWSDELTA_SMTP_TLS: expected starttls, ssl or none"),
])
def test_an_environment_mistake_names_the_variable(tmp_path: Path, var: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_settings(env={"NEWSDELTA_HOME": str(tmp_path), var: value})


def test_file_then_environment_each_read_by_the_settings_declaration(tmp_path: Path) -> None:
    path = config(tmp_path, '[newsdelta]\nconcurrency = 3\nper_host_delay_s = 2\nallow_hosts = ["10.0.0.0/8"]\n'
                            '[alerts.email]\nhost = "smtp.example.com"\nto = ["desk@example.com"]\nport = 2525\n'
                            '[alerts.digest]\nemail = 60\n'
                            '[[feeds]]\nurl = "https://a.example/feed"\noutlet = "A"\ninterval_minutes = 30\n')
    s = load_settings(path, env={"NEWSDELTA_HOME": str(tmp_path), "NEWSDELTA_CONCURRENCY": "5", "NEWSDELTA_ALLOW_HOSTS": "127.0.0.1"})
    assert s.concurrency == 5, "the environment wins over the file"
    assert s.per_host_delay_s == 2.0 and isinstance(s.per_host_delay_s, float)
    assert s.allow_hosts == ("127.0.0.1", "10.0.0.0/8")
    assert (s.smtp_host, s.smtp_port, s.email_to, s.digest_minutes) == ("smtp.example.com", 2525, ("desk@example.com",), {"email": 60.0})
    assert [(f.url, f.outlet, f.interval_minutes) for f in s.feeds] == [("https://a.example/feed", "A", 30.0)]
    assert s.alert_channels == ["email"]
    described = s.describe()
    assert described["feeds"] == [{"url": "https://a.example/feed", "outlet": "A", "interval_minutes": 30.0}]
    assert described["smtp_password"] == "(not set)"
