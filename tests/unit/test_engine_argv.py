"""Each engine turns a profile into its own argv list and readiness rule; bad engine settings are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmload.errors import UsageError
from llmload.serve.engine_argv import engine_argv, readiness
from llmload.serve.launcher import server_env
from llmload.serve.serve_profile import load_profile

SHARED = 'model = "/m/Qwen3-8B"\nport = 9000\ntensor_parallel_size = 2\ngpu_memory_utilization = 0.8\n'
SHARED += "max_num_seqs = 32\nmax_model_len = 8192\nenforce_eager = true\ntrust_remote_code = true\n"


def load(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_same_keys_become_each_python_engines_own_flags(tmp_path: Path) -> None:
    vllm = engine_argv(load_profile(load(tmp_path, SHARED)), "py")
    assert vllm == [
        "py", "-m", "vllm.entrypoints.openai.api_server", "--model", "/m/Qwen3-8B",
        "--served-model-name", "Qwen3-8B", "--host", "127.0.0.1", "--port", "9000",
        "--tensor-parallel-size", "2", "--gpu-memory-utilization", "0.8", "--max-num-seqs", "32",
        "--max-model-len", "8192", "--enforce-eager", "--trust-remote-code",
    ]  # fmt: skip
    sglang = engine_argv(load_profile(load(tmp_path, 'engine = "sglang"\n' + SHARED)), "py", port=9100)
    assert sglang == [
        "py", "-m", "sglang.launch_server", "--model-path", "/m/Qwen3-8B",
        "--served-model-name", "Qwen3-8B", "--host", "127.0.0.1", "--port", "9100",
        "--tp-size", "2", "--mem-fraction-static", "0.8", "--max-running-requests", "32",
        "--context-length", "8192", "--disable-cuda-graph", "--trust-remote-code",
    ]  # fmt: skip


def test_transformers_takes_the_model_path_as_its_name_and_a_device(tmp_path: Path) -> None:
    text = 'engine = "transformers"\nmodel = "/m/q"\nport = 9000\ndtype = "bfloat16"\n'
    text += "[args]\ncontinuous-batching = true\ncb-num-blocks = 256\n"
    profile = load_profile(load(tmp_path, text))
    assert profile.served_model_name == "/m/q"
    assert engine_argv(profile, "py") == [
        "py", "-m", "transformers.cli.transformers", "serve", "/m/q", "--host", "127.0.0.1", "--port", "9000",
        "--device", "cuda:0", "--dtype", "bfloat16", "--continuous-batching", "--cb-num-blocks", "256",
    ]  # fmt: skip
    cpu = load_profile(load(tmp_path, text.replace("port = 9000", 'port = 9000\ndevice = "cpu"')))
    assert engine_argv(cpu, "py")[9:11] == ["--device", "cpu"]
    rule = readiness(profile)
    assert (rule.health_path, rule.model_listed) == ("/health", False)  # its /v1/models lists the HF cache


def test_command_template_is_filled_in_and_args_appended(tmp_path: Path) -> None:
    text = 'engine = "command"\nmodel = "/m/q.gguf"\nport = 8080\nserved_model_name = "q"\nmax_num_seqs = 4\n'
    text += 'health_path = ""\ncommand = ["srv", "-m", "{model}", "--alias={served_model_name}",'
    text += ' "--port", "{port}",'
    text += ' "-np", "{max_num_seqs}", "--json={{}}"]\n[args]\nmetrics = true\n'
    profile = load_profile(load(tmp_path, text))
    assert engine_argv(profile, None, port=8181) == [
        "srv", "-m", "/m/q.gguf", "--alias=q", "--port", "8181", "-np", "4", "--json={}", "--metrics",
    ]  # fmt: skip
    rule = readiness(profile)
    assert (rule.health_path, rule.model_listed) == (None, True)
    assert rule.describe("q") == "GET /v1/models lists q"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('engine = "tgi"\n', r":3: engine must be one of \('vllm', 'sglang', 'transformers', 'command'\)"),
        (
            'engine = "transformers"\nmax_num_seqs = 8\n',
            ":4: engine transformers has no flag for max_num_seqs",
        ),
        (
            'engine = "transformers"\nserved_model_name = "x"\n',
            ":4: engine transformers has no flag for served_model_name",
        ),
        ('command = ["srv"]\n', ':3: command is for engine = "command" \\(this profile\'s engine is vllm\\)'),
        ('engine = "command"\n', ':3: engine = "command" needs command = '),
        ('engine = "command"\ncommand = ["srv", "{modle}"]\n', r":4: command: unknown placeholder \{modle\}"),
        (
            'engine = "command"\ncommand = ["srv", "{max_num_seqs}"]\n',
            r":4: .*\{max_num_seqs\} needs key 'max_num_seqs'",
        ),
        ('engine = "command"\ncommand = ["srv", "{port"]\n', ":4: command: "),
    ],
)
def test_bad_engine_settings_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = load(tmp_path, 'model = "/m/q"\nport = 9000\n' + text)
    with pytest.raises(UsageError, match=f"{path}{message}"):
        load_profile(path)


def test_the_server_environment_is_the_engines_own(tmp_path: Path) -> None:
    text = 'engine = "transformers"\nmodel = "/m/q"\nport = 9000\ndevice = "cpu"\n'
    assert server_env(load_profile(load(tmp_path, text)), [1, 2]) == {"HF_HUB_DISABLE_UPDATE_CHECK": "1"}
    vllm_cpu = load_profile(load(tmp_path, 'model = "/m/q"\nport = 9000\ndevice = "cpu"\n'))
    assert server_env(vllm_cpu, [1, 2]) == {"VLLM_TARGET_DEVICE": "cpu", "VLLM_CPU_OMP_THREADS_BIND": "1-2"}
