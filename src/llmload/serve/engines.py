"""The serving engines a profile can name (``engine = "..."``) and what llmload knows of each: how it is
started, which profile keys it has flags for, how to tell it is ready, what its ``/metrics`` expose.

``vllm``, ``sglang`` and ``transformers`` are Python programs, started as ``PYTHON -m MODULE ...`` with the
interpreter ``interpreter.engine_python`` finds; ``command`` is any other program that speaks the OpenAI API,
started from the profile's argv template (``engine_argv``).
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

DEFAULT_ENGINE = "vllm"
COMMAND = "command"

# Profile keys that become an engine's flags where it has one. A key an engine has no flag for is refused
# when the profile is read (give the engine's own flag in [args] instead).
ENGINE_KEYS = (
    "served_model_name",
    "tensor_parallel_size",
    "gpu_memory_utilization",
    "max_num_seqs",
    "max_model_len",
    "dtype",
    "enforce_eager",
    "trust_remote_code",
)


@dataclass(frozen=True, slots=True)
class Readiness:
    """When a started server is ready: ``health_path`` answers 200 (None: no such endpoint) and, with
    ``model_listed``, ``/v1/models`` lists the served model name."""

    health_path: str | None
    model_listed: bool

    def describe(self, served_model_name: str) -> str:
        parts = [f"GET {self.health_path} answers 200"] if self.health_path else []
        if self.model_listed:
            parts.append(f"GET /v1/models lists {served_model_name}")
        return " and ".join(parts)


@dataclass(frozen=True, slots=True)
class Engine:
    name: str
    label: str
    module: str | None  # the Python package preflight imports for its version; None: not a Python engine
    entry: tuple[str, ...]  # argv after the interpreter
    model_flag: str | None  # the flag before the model path; None: the path is positional
    served_name_flag: str | None  # None: the engine names its model by the model path
    key_flags: tuple[tuple[str, str], ...]  # profile key -> flag, in command-line order
    readiness: Readiness
    metrics: str  # what GET /metrics exposes, and whether llmload reads it
    memory_default: float | None  # GPU memory fraction preflight assumes when the profile sets none
    device_args: dict[str, tuple[str, ...]] = field(default_factory=dict)  # per profile device
    env: dict[str, str] = field(default_factory=dict)  # the server's environment (the profile's [env] wins)

    @property
    def python_variable(self) -> str:
        """The environment variable naming the interpreter that runs this engine (GPU and NPU profiles)."""
        return f"LLMLOAD_{self.name.upper()}_PYTHON"

    def supports(self, key: str) -> bool:
        if self.name == COMMAND:
            return True  # every key is a placeholder of the template
        if key == "served_model_name":
            return self.served_name_flag is not None
        return any(key == name for name, _ in self.key_flags)


VLLM = Engine(
    name="vllm",
    label="vLLM",
    module="vllm",
    entry=("-m", "vllm.entrypoints.openai.api_server"),
    model_flag="--model",
    served_name_flag="--served-model-name",
    key_flags=(
        ("tensor_parallel_size", "--tensor-parallel-size"),
        ("gpu_memory_utilization", "--gpu-memory-utilization"),
        ("max_num_seqs", "--max-num-seqs"),
        ("max_model_len", "--max-model-len"),
        ("dtype", "--dtype"),
        ("enforce_eager", "--enforce-eager"),
        ("trust_remote_code", "--trust-remote-code"),
    ),
    readiness=Readiness("/health", model_listed=True),
    metrics="vllm: series (queue, KV cache, tokens, latency histograms): sampled by llmload run",
    memory_default=0.9,  # vLLM's --gpu-memory-utilization default
)

SGLANG = Engine(
    name="sglang",
    label="SGLang",
    module="sglang",
    entry=("-m", "sglang.launch_server"),
    model_flag="--model-path",
    served_name_flag="--served-model-name",
    key_flags=(
        ("tensor_parallel_size", "--tp-size"),
        ("gpu_memory_utilization", "--mem-fraction-static"),
        ("max_num_seqs", "--max-running-requests"),
        ("max_model_len", "--context-length"),
        ("dtype", "--dtype"),
        ("enforce_eager", "--disable-cuda-graph"),
        ("trust_remote_code", "--trust-remote-code"),
    ),
    readiness=Readiness("/health", model_listed=True),
    metrics="sglang: series with --enable-metrics (llmload's server panels read vLLM's names: not sampled)",
    memory_default=None,  # SGLang sizes its static memory by the GPU when --mem-fraction-static is not given
)

TRANSFORMERS = Engine(
    name="transformers",
    label="transformers serve",
    module="transformers",
    entry=("-m", "transformers.cli.transformers", "serve"),
    model_flag=None,
    served_name_flag=None,
    key_flags=(("dtype", "--dtype"), ("trust_remote_code", "--trust-remote-code")),
    # It loads the model before it listens; /v1/models lists the Hugging Face cache (HTTP 500 without one),
    # not the served model, whose name is its path.
    readiness=Readiness("/health", model_listed=False),
    metrics="none (no /metrics; the GPU panels come from NVML alone)",
    memory_default=None,  # it allocates as it loads; the KV cache is --cb-num-blocks x --cb-block-size
    device_args={"gpu": ("--device", "cuda:0"), "cpu": ("--device", "cpu")},
    env={"HF_HUB_DISABLE_UPDATE_CHECK": "1"},  # its CLI would otherwise ask PyPI for a newer version
)

COMMAND_ENGINE = Engine(
    name=COMMAND,
    label="command",
    module=None,
    entry=(),
    model_flag=None,
    served_name_flag=None,
    key_flags=(),
    readiness=Readiness("/health", model_listed=True),  # health_path in the profile changes the path
    metrics="whatever the program exposes; llmload samples vllm: series only",
    memory_default=None,  # checked only when the profile sets gpu_memory_utilization
)

ENGINES: dict[str, Engine] = {e.name: e for e in (VLLM, SGLANG, TRANSFORMERS, COMMAND_ENGINE)}


def engine_named(name: str) -> Engine:
    """The engine called ``name`` (the profile loader has checked that it exists)."""
    return ENGINES[name]


# Placeholders of a `command` template: {model}, {port}, {host}, {served_model_name} and the engine keys.
PLACEHOLDERS = ("model", "served_model_name", "host", "port", *ENGINE_KEYS[1:])


def template_fields(template: list[str]) -> list[str]:
    """The placeholder names a command template uses, in order (``{{`` and ``}}`` are literal braces).
    Raises ValueError for a malformed template (an unmatched brace)."""
    names: list[str] = []
    for word in template:
        names += [name for _, name, _, _ in string.Formatter().parse(word) if name is not None]
    return names
