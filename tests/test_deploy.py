"""deploy/prefect.yaml as a worker uses it: each deployment's flow is found from the installed
package, in a directory that holds no checkout of the project."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT


def test_every_deployment_loads_its_flow_from_the_package_outside_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.flows import load_flow_from_entrypoint

    config = yaml.safe_load((ROOT / "deploy" / "prefect.yaml").read_text("utf-8"))
    assert not config.get("pull"), "no pull step: a worker needs the package, not a checkout at a path fixed at deploy time"
    monkeypatch.chdir(tmp_path)  # where a worker may run: nothing of the project here
    names = {}
    for deployment in config["deployments"]:
        names[deployment["name"]] = load_flow_from_entrypoint(deployment["entrypoint"]).name
    assert names == {"scheduled": "newsdelta-ingest", "on-demand": "newsdelta-deliver"}
