"""Serve profiles: TOML -> validated ServeProfile -> argv list."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmload.errors import UsageError
from llmload.serve.engine_argv import engine_argv
from llmload.serve.serve_profile import load_profile
from llmload.serve.vllm_env import profiles_dir

MINIMAL = 'model = "/m/tiny"\nport = 9000\n'


def write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_seed_profile_gives_the_seed_command_line() -> None:
    profile = load_profile("qwen3-32b-awq-2x4090")
    argv = engine_argv(profile, "/venv/bin/python")
    assert argv == [
        "/venv/bin/python", "-m", "vllm.entrypoints.openai.api_server",
        "--model", "/models/Qwen/Qwen3-32B-AWQ",
        "--served-model-name", "Qwen3-32B-AWQ",
        "--host", "0.0.0.0", "--port", "4444",
        "--tensor-parallel-size", "2",
        "--gpu-memory-utilization", "0.85",
        "--max-num-seqs", "64",
        "--max-model-len", "32768",
        "--enforce-eager", "--trust-remote-code",
    ]  # fmt: skip
    assert profile.device == "gpu"
    assert "modelscope download --model Qwen/Qwen3-32B-AWQ" in profile.download_hint


def test_tiny_profile_uses_model_cache_and_cpu_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLMLOAD_MODEL_CACHE", str(tmp_path))
    profile = load_profile(profiles_dir() / "tiny-cpu.toml")
    assert profile.model == str(tmp_path / "tiny-qwen3")
    assert profile.device == "cpu"
    assert profile.env["VLLM_CPU_KVCACHE_SPACE"] == "2"
    argv = engine_argv(profile, "py", port=18451)
    assert argv[argv.index("--port") + 1] == "18451"
    assert argv[argv.index("--max-num-seqs") + 1] == str(profile.max_num_seqs)
    assert argv[argv.index("--dtype") + 1] == "float32"


def test_args_table_bool_list_and_underscore_flags(tmp_path: Path) -> None:
    text = MINIMAL + "[args]\nenable_prefix_caching = true\nenable-chunked-prefill = false\n"
    text += 'max-num-batched-tokens = 2048\nallowed-origins = ["a", "b"]\n'
    argv = engine_argv(load_profile(write(tmp_path, text)), "py")
    tail = argv[argv.index("9000") + 1 :]
    assert tail == [
        "--enable-prefix-caching",
        "--max-num-batched-tokens", "2048",
        "--allowed-origins", "a", "--allowed-origins", "b",
    ]  # fmt: skip


def test_defaults_name_from_file_and_served_name_from_model(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, MINIMAL, "mine.toml"))
    assert (profile.name, profile.served_model_name, profile.host) == ("mine", "tiny", "127.0.0.1")


def test_unknown_top_level_key_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "max_num_seq = 4\n")
    with pytest.raises(UsageError, match=rf"{path}:3: unknown key 'max_num_seq'"):
        load_profile(path)


def test_missing_model_key(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="missing required key 'model'"):
        load_profile(write(tmp_path, "port = 1\n"))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("tensor_parallel_size = 0", "tensor_parallel_size must be >= 1"),
        ("gpu_memory_utilization = 1.5", r"gpu_memory_utilization must be in \(0, 1\]"),
        ('max_num_seqs = "64"', "key 'max_num_seqs' must be int"),
        ("enforce_eager = 1", "key 'enforce_eager' must be bool"),
        ('device = "tpu"', "device must be one of"),
    ],
)
def test_bad_values_are_usage_errors_with_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, MINIMAL + line + "\n")
    with pytest.raises(UsageError, match=f"{path}:3: .*{message}"):
        load_profile(path)


def test_unknown_profile_name_lists_known_ones() -> None:
    with pytest.raises(UsageError, match="serve profile not found: nope .*tiny-cpu"):
        load_profile("nope")


def test_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="invalid TOML"):
        load_profile(write(tmp_path, "model = \n"))
