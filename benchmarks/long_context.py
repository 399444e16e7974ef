"""Long contexts (issue 22, target 3): the client's CPU per request and TTFT error with 128k-token prompts and
32k-token answers, against a 1k-token request's; and where a request's cost goes as it grows.

`--micro` (seconds, no network) times each piece of the client's work in-process, at growing sizes:

    body        the plate scenario's request for a batch of comments (PlateScenario.request: rows, messages)
                and its encoding as llmload sends it (json.dumps(ensure_ascii=False).encode(), client/stream.py)
    stream      an answer of N tokens through the client's read loop (client/stream.consume_stream: SSE split,
                shape check, accumulate), read one event at a time (paced) and in 64 KiB pieces (a burst),
                then StreamAccumulator.finish (the answer text) and Record.to_json; `score`: the plate
                scenario scoring that text (done once, at the answer's end)
    master      json.loads + Record.from_dict of that record (what the master does per record received)
    collection  a full garbage collection with 16 answers of N tokens streaming (what each chunk kept costs)

A per-token (or per-KiB) cost that stays flat as N grows is linear; a quadratic copy shows as a cost per
token that grows with N.

The default runs `llmload run` end to end against the fake server (`--streams` streams, TTFT 100 ms):
a 1k-token prompt with 64 tokens out, a 128k-token prompt with 64 out, a 1k prompt with 32k out (ITL
--long-itl-ms), and reports client CPU per request and per token (with `--workers`, the workers' CPU; the master's
apart), the TTFT error, and the upload time.

    .venv/bin/python benchmarks/long_context.py --micro
    .venv/bin/python benchmarks/long_context.py --streams 64
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from client_overhead import Case, FakeServer, taskset
from cluster_sampling import RunSampler, Sample
from scale_out import ServerProbe, record_errors, steady_window

from llmload.client.sse import StreamAccumulator
from llmload.client.stream import consume_stream
from llmload.processes import free_port
from llmload.records import Record
from llmload.scenarios.plates.plate_scenario import DEFAULT_DATASET, PlateScenario
from llmload.scenarios.prompt_tokens import estimate_prompt_tokens

ROOT = Path(__file__).resolve().parents[1]
TOKENS_PER_COMMENT = 13.4  # the plate scenario: 100 comments ~ 1,342 prompt tokens (scenarios/prompt_tokens.py)
PIECE_BYTES = 65536  # the client's recv size (client/stream.RECV_BYTES)


def timed(fn: Callable[[], object], min_s: float = 0.3) -> float:
    """Seconds per call (best of three rounds of at least min_s each)."""
    best = float("inf")
    for _ in range(3):
        calls, t0 = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= min_s:
                break
        best = min(best, elapsed / calls)
    return best


def body_costs(prompt_tokens: list[int]) -> list[str]:
    rows = ["| prompt tokens (est.) | comments | body KiB | build ms | encode ms | us per KiB |", "|---:|---:|---:|---:|---:|---:|"]
    for tokens in prompt_tokens:
        batch = max(1, round(tokens / TOKENS_PER_COMMENT))
        scenario = PlateScenario.from_path(ROOT / DEFAULT_DATASET, batch)
        request = scenario.request(0, 0)
        body = {"model": "m", "messages": request.messages, "stream": True, "max_tokens": 64}
        payload = json.dumps(body, ensure_ascii=False).encode()
        build_s = timed(lambda s=scenario: s.request(3, 1))
        encode_s = timed(lambda b=body: json.dumps(b, ensure_ascii=False).encode())
        kib = len(payload) / 1024
        estimate = estimate_prompt_tokens([m["content"] for m in request.messages])
        rows.append(f"| {estimate:,} | {batch:,} | {kib:,.0f} | {build_s * 1e3:.2f} | {encode_s * 1e3:.2f} "
                    f"| {(build_s + encode_s) / kib * 1e6:.1f} |")
    return rows


def sse_events(tokens: int) -> list[bytes]:
    """A vLLM-like chat stream: role, `tokens` content chunks, usage, [DONE] (one SSE event each)."""
    head = b'{"id":"chatcmpl-1","object":"chat.completion.chunk","created":0,"model":"fake","choices":[{"index":0,'
    token = head + b'"delta":{"content":" t"},"logprobs":null,"finish_reason":null}]}'
    last = head + b'"delta":{"content":" t"},"logprobs":null,"finish_reason":"length"}]}'
    usage = (b'{"id":"chatcmpl-1","object":"chat.completion.chunk","created":0,"model":"fake","choices":[],'
             b'"usage":{"prompt_tokens":10,"completion_tokens":%d,"total_tokens":%d}}' % (tokens, tokens + 10))
    role = head + b'"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}'
    payloads = [role, *[token] * (tokens - 1), last, usage, b"[DONE]"]
    return [b"data: " + p + b"\n\n" for p in payloads]


def read_answer(pieces: list[bytes], tokens: int) -> tuple[Record, str]:
    """The client's work for one answer arriving in `pieces`, up to its record; and the answer's text."""
    it = iter(pieces)
    accumulator = StreamAccumulator(keep_text=True)
    ticks = iter(range(10**9)).__next__
    consume_stream(lambda: next(it, b""), lambda: 1.7964e9 + 0.02 * ticks(), accumulator)  # epoch-like stamps
    facts = accumulator.finish()
    assert facts.output_tokens == tokens and facts.done
    record = Record(request_id="r", user_id=0, send_s=0.0, end_s=1.0, ok=True, first_token_s=facts.first_token_s,
                    last_token_s=facts.last_token_s, chunk_s=facts.chunk_s, output_tokens=facts.output_tokens)
    return record, facts.answer_text


def stream_costs(answer_tokens: list[int]) -> list[str]:
    rows = ["| answer tokens | paced: us/token | burst (64 KiB reads): us/token | record KiB | to_json us/token "
            "| master loads us/token | score ms |", "|---:|---:|---:|---:|---:|---:|---:|"]
    scenario = PlateScenario.from_path(ROOT / DEFAULT_DATASET, 10)
    for tokens in answer_tokens:
        events = sse_events(tokens)
        whole = b"".join(events)
        burst = [whole[i : i + PIECE_BYTES] for i in range(0, len(whole), PIECE_BYTES)]
        paced_s = timed(lambda e=events, n=tokens: read_answer(e, n))
        burst_s = timed(lambda b=burst, n=tokens: read_answer(b, n))
        record, answer = read_answer(burst, tokens)
        line = record.to_json()
        dump_s = timed(record.to_json)
        load_s = timed(lambda text=line: Record.from_dict(json.loads(text)))
        score_s = timed(lambda text=answer: scenario.score(scenario.request(0, 0), text))  # once, at the answer's end
        rows.append(f"| {tokens:,} | {paced_s / tokens * 1e6:.2f} | {burst_s / tokens * 1e6:.2f} "
                    f"| {len(line) / 1024:,.0f} | {dump_s / tokens * 1e6:.3f} | {load_s / tokens * 1e6:.3f} "
                    f"| {score_s * 1e3:.3f} |")
    return rows


def collection_costs(answer_tokens: list[int], streams: int = 16) -> list[str]:
    """A full garbage collection's pause with `streams` answers of N tokens half-way through (their
    accumulators alive, the rest of the heap frozen as the load process freezes it): what a long stream's
    per-chunk storage costs every collection while it lasts."""
    rows = [f"| answer tokens | {streams} streams' chunks | full collection ms |", "|---:|---:|---:|"]
    gc.collect()
    gc.freeze()
    for tokens in answer_tokens:
        events = sse_events(tokens)[1 : tokens + 1]
        live = []
        for _ in range(streams):
            accumulator = StreamAccumulator(keep_text=True)
            for i, event in enumerate(events):
                accumulator.add(1.7964e9 + i * 1e-3, [bytes(bytearray(event[6:-2]))])  # a fresh object each, as read
            live.append(accumulator)
        rows.append(f"| {tokens:,} | {streams * tokens:,} | {timed(gc.collect, 0.1) * 1e3:.2f} |")
        del live
    gc.unfreeze()
    return rows


def micro(args: argparse.Namespace) -> None:
    print("\n".join(body_costs(args.prompt_tokens)))
    print()
    print("\n".join(stream_costs(args.answer_tokens)))
    print()
    print("\n".join(collection_costs(args.answer_tokens)))


# --- end to end ------------------------------------------------------------------------------------------

@dataclass
class Shape:
    label: str
    prompt_tokens: int
    answer_tokens: int
    itl_s: float


def run_shape(args: argparse.Namespace, shape: Shape, work: Path) -> str:
    case = Case(args.streams, shape.answer_tokens, 0.1, shape.itl_s)
    out = work / shape.label.replace(" ", "-")
    out.mkdir(parents=True, exist_ok=True)
    server = FakeServer(case, free_port(), out / "server.log", cores=args.server_cpus)
    window_s = max(args.window_s, 2.2 * case.request_s)  # long requests: the second round is sent inside it
    step_s = args.streams / 100 + 3 + window_s
    batch = max(1, round(shape.prompt_tokens / TOKENS_PER_COMMENT))
    argv = [*taskset(args.client_cpus), sys.executable, "-m", "llmload.cli", "run", "--host", server.url,
            "--users", str(args.streams), "--step-duration", f"{step_s:.0f}s", "--batch-size", str(batch),
            "--max-tokens", str(shape.answer_tokens), "--ignore-eos", "--warmup", "1", "--cpus", args.client_cpus,
            "--out", str(out / "run"), *(["--no-score"] if args.no_score else []),
            *(["--workers", str(args.workers)] if args.workers else [])]
    try:
        with (out / "llmload.log").open("w") as log:
            proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        sampler = RunSampler([proc.pid], out / "run" / "records.jsonl", probe=ServerProbe(server))
        sampler.start()
        try:
            proc.wait(timeout=step_s + 600)
        finally:
            sampler.stop()
        late = server.stats(lateness=True)["lateness_p99_s"]
    finally:
        server.stop()
    return summarize(shape, case, [s for s in sampler.samples if "tokens" in s.extra], out / "run", late, window_s)


def summarize(shape: Shape, case: Case, samples: list[Sample], run_dir: Path, late_s: float | None,
              window_s: float) -> str:
    window = steady_window(samples, case.streams, window_s)
    if window is None:
        return f"| {shape.label} | no steady window (see {run_dir.parent / 'llmload.log'}) |"
    a, b = window
    done = b.records - a.records
    cpu_s = b.worker_cpu_s - a.worker_cpu_s
    tokens = b.extra["tokens"] - a.extra["tokens"]
    ttft, _, _ = record_errors(run_dir, case, a.t_s, b.t_s)
    upload = [r["headers_s"] - r["send_s"] for r in map(json.loads, (run_dir / "records.jsonl").open())
              if r["ok"] and a.t_s <= r["send_s"] < b.t_s and r["headers_s"] is not None]
    ms = np.asarray(ttft) * 1000 if ttft else np.asarray([np.nan])
    late = "-" if late_s is None else f"{late_s * 1000:.2f}"
    return (f"| {shape.label} | {cpu_s / (b.t_s - a.t_s) * 100:.1f} | {done} | {cpu_s / max(done, 1) * 1000:.2f} "
            f"| {cpu_s / max(tokens, 1) * 1e6:.1f} | {ms.mean():+.2f} / {np.percentile(ms, 99):+.2f} "
            f"| {np.mean(upload) * 1000 if upload else float('nan'):.2f} | {late} |")


def end_to_end(args: argparse.Namespace) -> None:
    shapes = [Shape("1k prompt, 64 out", 1000, 64, 0.02), Shape("128k prompt, 64 out", 128_000, 64, 0.02),
              Shape("1k prompt, 32k out", 1000, 32_768, args.long_itl_ms / 1000)]
    work = Path(args.out or tempfile.mkdtemp(prefix="llmload-long-"))
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  load before: {os.getloadavg()[0]:.2f}  {args.streams} streams  "
          f"{args.workers or 'no'} workers  server cores {args.server_cpus}, client {args.client_cpus}  work: {work}")
    print("| shape | client CPU % | requests in window | CPU ms/request | CPU us/token out | TTFT err mean / p99 ms "
          "| headers after send ms | srv99 ms |\n|---|---:|---:|---:|---:|---|---:|---:|", flush=True)
    for shape in shapes:
        if shape.label in args.only or not args.only:
            print(run_shape(args, shape, work) + f"  (load {os.getloadavg()[0]:.2f})", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--micro", action="store_true", help="in-process costs by size only (no network)")
    p.add_argument("--prompt-tokens", type=lambda s: [int(x) for x in s.split(",")], default=[1000, 8000, 32000, 128000])
    p.add_argument("--answer-tokens", type=lambda s: [int(x) for x in s.split(",")], default=[64, 1024, 8192, 32768])
    p.add_argument("--streams", type=int, default=64)
    p.add_argument("--long-itl-ms", type=float, default=2.0, help="ITL of the 32k-token answers (ms)")
    p.add_argument("--window-s", type=float, default=10.0)
    p.add_argument("--server-cpus", default="0")
    p.add_argument("--client-cpus", default="1")
    p.add_argument("--no-score", action="store_true", help="llmload --no-score: answers are not decoded")
    p.add_argument("--workers", type=int, default=0,
                   help="llmload --workers N: the streams spread over N worker processes (default: one process)")
    p.add_argument("--only", type=lambda s: s.split(";"), default=[], help="shape labels to run (;-separated)")
    p.add_argument("--out", default="")
    args = p.parse_args()
    if args.micro:
        micro(args)
    else:
        end_to_end(args)


if __name__ == "__main__":
    main()
