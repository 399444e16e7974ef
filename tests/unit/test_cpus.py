"""Cores for a server and a load generator on one machine: core lists, the split, and what vLLM is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmload import cpus
from llmload.cpus import colocated_split, format_cpu_list, generator_cpus_beside, parse_cpu_list, server_cpus
from llmload.errors import UsageError
from llmload.serve.launcher import server_env
from llmload.serve.serve_profile import load_profile


@pytest.fixture
def four_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpus, "allowed_cpus", lambda: [0, 1, 2, 3])


@pytest.mark.usefixtures("four_cores")
def test_core_lists_read_and_write_as_linux_does() -> None:
    assert parse_cpu_list("0,2-3") == [0, 2, 3]
    assert format_cpu_list([3, 0, 2, 1]) == "0-3"
    assert format_cpu_list([0, 2, 3, 7]) == "0,2-3,7"
    for bad, why in [("a", "not a core list"), ("3-1", "rising range"), ("1-2-3", "rising range"), ("5", "not available")]:
        with pytest.raises(UsageError, match=why):
            parse_cpu_list(bad)


@pytest.mark.usefixtures("four_cores")
def test_the_generator_keeps_the_first_core_and_the_server_takes_the_rest() -> None:
    assert colocated_split() == ([0], [1, 2, 3])
    assert server_cpus("auto") == [1, 2, 3]
    assert server_cpus("2-3") == [2, 3]
    assert server_cpus(None) is None
    assert generator_cpus_beside([1, 2, 3]) == [0]
    assert generator_cpus_beside(None) is None


def test_one_core_is_not_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpus, "allowed_cpus", lambda: [0])
    assert colocated_split() is None
    assert server_cpus("auto") is None


@pytest.mark.usefixtures("four_cores")
def test_a_cpu_server_gets_its_platform_and_thread_binding(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('model = "/m"\nport = 9000\ndevice = "cpu"\ncpus = "auto"\n', encoding="utf-8")
    profile = load_profile(path)
    assert server_env(profile, server_cpus(profile.cpus)) == {
        "VLLM_TARGET_DEVICE": "cpu",  # else vLLM may load its AVX-512 kernels on an AVX2 CPU
        "VLLM_CPU_OMP_THREADS_BIND": "1-3",
    }
    gpu = tmp_path / "g.toml"
    gpu.write_text('model = "/m"\nport = 9000\ncpus = "2-3"\n', encoding="utf-8")
    assert server_env(load_profile(gpu), [2, 3]) == {}  # a GPU server: affinity only


def test_a_bad_core_list_in_a_profile_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('model = "/m"\nport = 9000\ncpus = "x"\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"p\.toml:3: .*not a core list"):
        load_profile(path)
