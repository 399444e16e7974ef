"""examples/k8s stays a working Kubernetes setup of llmload's master/worker model, in step with the CLI.

Checked without a cluster: every manifest parses, each resource has what Kubernetes requires of its kind,
names and references resolve (Services select the master's pod, volumes and claims exist, $(VAR) in a
command names an env var of its container), every `llmload` command parses with today's CLI and passes
its distributed checks, and the pieces agree as Locust's distributed setup needs them to: the workers
connect to the Service in front of the master, on the port the master binds, the master does not bind
loopback, and the master's --workers equals the number of worker pods. Building the image and running on a
cluster are not done here (no Docker or Kubernetes on the test machines)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmload.cli import build_parser
from llmload.load.cluster import validate_distributed_args

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "examples" / "k8s"
MANIFESTS = sorted(K8S.glob("*.yaml"))
DISTRIBUTED = [K8S / "llmload.yaml", K8S / "llmload-ui.yaml"]  # a master and its workers each
KINDS = {("v1", "Service"), ("v1", "PersistentVolumeClaim"), ("v1", "Pod"), ("batch/v1", "Job"),
         ("apps/v1", "Deployment")}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def pod_spec(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(pod labels, pod spec) of a Pod, or of a Job's or Deployment's pod template."""
    if doc["kind"] == "Pod":
        return doc["metadata"].get("labels", {}), doc["spec"]
    if doc["kind"] in ("Job", "Deployment"):
        template = doc["spec"]["template"]
        return template["metadata"].get("labels", {}), template["spec"]
    return None


def llmload_commands(doc: dict[str, Any]) -> list[tuple[dict[str, Any], Any]]:
    """(container, parsed args) of every container that runs `llmload`."""
    spec = pod_spec(doc)
    out = []
    for container in spec[1]["containers"] if spec else []:
        command = container.get("command", [])
        if command and command[0] == "llmload":
            out.append((container, build_parser().parse_args([str(arg) for arg in command[1:]])))
    return out


def pods_of(doc: dict[str, Any]) -> int:
    """How many pods a Job (all at once: parallelism = completions) or a Deployment runs."""
    if doc["kind"] == "Job":
        assert doc["spec"]["parallelism"] == doc["spec"]["completions"], doc["metadata"]["name"]
        return int(doc["spec"]["parallelism"])
    return int(doc["spec"].get("replicas", 1))


@pytest.fixture(params=MANIFESTS, ids=[p.name for p in MANIFESTS])
def manifest(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return documents(request.param)


def test_the_example_has_its_three_manifests() -> None:
    assert {p.name for p in MANIFESTS} == {"llmload.yaml", "llmload-ui.yaml", "reports-reader.yaml"}


def test_every_resource_has_what_its_kind_requires(manifest: list[dict[str, Any]]) -> None:
    for doc in manifest:
        assert (doc["apiVersion"], doc["kind"]) in KINDS, doc.get("kind")
        assert DNS_LABEL.match(doc["metadata"]["name"]), doc["metadata"]["name"]
        spec = pod_spec(doc)
        if spec is not None:
            check_pod(doc, *spec)
        if doc["kind"] == "Deployment":
            selected = doc["spec"]["selector"]["matchLabels"]
            assert selected.items() <= spec[0].items() if spec else False, doc["metadata"]["name"]
        if doc["kind"] == "Service":
            for port in doc["spec"]["ports"]:
                assert isinstance(port["port"], int) and isinstance(port["targetPort"], int)


def check_pod(doc: dict[str, Any], labels: dict[str, Any], spec: dict[str, Any]) -> None:
    name = doc["metadata"]["name"]
    if doc["kind"] == "Job":
        assert spec["restartPolicy"] in ("Never", "OnFailure"), name  # Kubernetes refuses Always for a Job
    volumes = {v["name"] for v in spec.get("volumes", [])}
    assert spec["containers"], name
    for container in spec["containers"]:
        assert DNS_LABEL.match(container["name"]) and container["image"], name
        assert all(isinstance(arg, str) for arg in container["command"]), (name, container["command"])
        assert {m["name"] for m in container.get("volumeMounts", [])} <= volumes, name
        for part in ("requests", "limits"):
            for value in container.get("resources", {}).get(part, {}).values():
                assert QUANTITY.match(str(value)), (name, value)
        defined = {env["name"] for env in container.get("env", [])}
        for arg in container["command"]:
            assert set(re.findall(r"\$\((\w+)\)", arg)) <= defined, (name, arg)  # Kubernetes expands only these


def test_claims_exist_and_agree_across_the_manifests() -> None:
    claims: dict[str, dict[str, Any]] = {}
    for path in MANIFESTS:
        for doc in documents(path):
            if doc["kind"] == "PersistentVolumeClaim":
                assert claims.setdefault(doc["metadata"]["name"], doc["spec"]) == doc["spec"]
    for path in MANIFESTS:
        for doc in documents(path):
            spec = pod_spec(doc)
            for volume in spec[1].get("volumes", []) if spec else []:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, path.name


def test_llmload_commands_parse_with_the_cli_and_pass_its_distributed_checks(manifest: list[dict[str, Any]]) -> None:
    commands = [args for doc in manifest for _, args in llmload_commands(doc)]
    for args in commands:
        validate_distributed_args(args)
    masters = [a for a in commands if a.master]
    workers = [a for a in commands if a.worker]
    assert len(masters) == (1 if workers else 0) and all(a.host for a in masters)


@pytest.mark.parametrize("path", DISTRIBUTED, ids=[p.name for p in DISTRIBUTED])
def test_workers_reach_the_master_as_locust_needs(path: Path) -> None:
    manifest = documents(path)
    services = {doc["metadata"]["name"]: doc for doc in manifest if doc["kind"] == "Service"}
    found = [(doc, c, a) for doc in manifest for c, a in llmload_commands(doc)]
    masters = [(doc, c, a) for doc, c, a in found if a.master]
    workers = [(doc, c, a) for doc, c, a in found if a.worker]
    assert len(masters) == 1 and workers
    (master_doc, master_container, master), = masters
    assert master.master_bind_host not in LOOPBACK  # workers on other hosts must reach it
    assert master.master_port in {p["containerPort"] for p in master_container["ports"]}
    assert sum(pods_of(doc) for doc, _, _ in workers) == master.workers  # Locust waits for exactly these
    master_labels = master_doc["spec"]["template"]["metadata"]["labels"]
    for _, container, worker in workers:
        service = services[worker.master_host]  # the workers find the master through its Service
        assert service["spec"]["selector"].items() <= master_labels.items()
        assert worker.master_port in {p["port"] for p in service["spec"]["ports"]}
        port = next(p for p in service["spec"]["ports"] if p["port"] == worker.master_port)
        assert port["targetPort"] == master.master_port
        resources = container["resources"]
        assert resources["requests"]["cpu"] == "1"  # one Locust process uses one core
        assert "cpu" not in resources.get("limits", {})  # CFS throttling would pause the reads mid-stream


def test_the_headless_master_command_is_a_valid_run_up_to_the_target(tmp_path: Path) -> None:
    """The real CLI, end to end until it needs the target: with the host swapped for a closed port it
    must stop at 'target unreachable' (exit 3), not at a usage error (exit 2)."""
    (master,) = [c for doc in documents(K8S / "llmload.yaml") for c, a in llmload_commands(doc) if a.master]
    argv = [str(arg) for arg in master["command"][1:]]
    argv[argv.index("--host") + 1] = "http://127.0.0.1:9"
    argv[argv.index("--out") + 1] = str(tmp_path / "run")
    result = subprocess.run([sys.executable, "-m", "llmload.cli", *argv], cwd=REPO, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 3, result.stderr[-2000:]
    assert "unreachable" in result.stderr and "Traceback" not in result.stderr


def test_the_image_holds_what_the_commands_use() -> None:
    dockerfile = (K8S / "Dockerfile").read_text(encoding="utf-8")
    copied = [line.split()[1:-1] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    assert copied and all((REPO / source).exists() for sources in copied for source in sources)
    assert any("datasets" in sources for sources in copied)  # the default --dataset, relative to WORKDIR
    assert 'llmload = "llmload.cli:main"' in (REPO / "pyproject.toml").read_text(encoding="utf-8")
