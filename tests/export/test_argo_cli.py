"""`dagctl export argo` flags: a value Kubernetes (or an image pull) would refuse is refused before any work, in
one line naming the flag, the value and the rule, with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

pytest.importorskip("hera", reason="the argo extra is not installed: pip install 'dagctl[argo]' (CI installs it)")

DIAMOND = "configs/dags/diamond_pipeline.yaml"


@pytest.fixture
def at_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)
    return ROOT


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--namespace", "Bad NS!"], "--namespace 'Bad NS!' is not a Kubernetes namespace name — a namespace is a "
         "DNS-1123 label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"),
        (["-n", "etl."], "-n 'etl.' is not a Kubernetes namespace name — a namespace is a DNS-1123 label"),
        (["--namespace", ""], "--namespace '' is not a Kubernetes namespace name"),
        (["--namespace", "a" * 64], f"--namespace '{'a' * 64}' is not a Kubernetes namespace name"),
        (["--pvc", "Bad_Claim"], "--pvc 'Bad_Claim' is not a Kubernetes object name — use a DNS-1123 subdomain: "
         "at most 253 lowercase letters, digits, '-' and '.', each part between dots starting and ending with a "
         "letter or digit"),
        (["--pvc", "runs.-x"], "--pvc 'runs.-x' is not a Kubernetes object name"),
        (["--secret-name", "Not Valid!"], "--secret-name 'Not Valid!' is not a Kubernetes object name"),
        (["--secret-name", ""], "--secret-name '' is not a Kubernetes object name"),
        (["--image", ""], "--image '' is not an image reference — give an image name without spaces, such as "
         "registry.example.com/etl:1.4 (leave out --image for dagctl:latest)"),
        (["--image", "etl:1.4 --privileged"], "--image 'etl:1.4 --privileged' is not an image reference"),
    ],
)  # fmt: skip
def test_a_flag_value_kubernetes_would_refuse_is_refused_naming_the_flag_and_the_rule(
    cli, at_root: Path, flags: list[str], message: str
) -> None:
    result = cli("export", "argo", DIAMOND, *flags)
    assert result.code == 2, result
    assert result.out == ""
    assert result.err.startswith(f"dagctl: error: {message}"), result.err
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err


def test_flag_values_kubernetes_takes_go_into_the_manifest(cli, at_root: Path) -> None:
    result = cli(
        "export", "argo", DIAMOND, "--namespace", "etl-2", "--pvc", "runs.v2", "--secret-name", "etl.secrets",
        "--image", "registry.example.com:5000/etl/app@sha256:" + "a" * 64,
    )  # fmt: skip
    assert result.code == 0, result
    manifest = yaml.safe_load(result.out)
    assert manifest["metadata"]["namespace"] == "etl-2"
    assert manifest["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "runs.v2"
    assert manifest["spec"]["templates"][1]["container"]["image"].endswith("@sha256:" + "a" * 64)
