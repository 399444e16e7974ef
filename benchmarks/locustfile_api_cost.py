"""What your own locustfile's calls cost the load generator, per chunk: `self.chat` against `self.openai` (the
SDK-shaped object, which keeps each payload and hands it out as the SDK's ChatCompletionChunk), with llmload's
built-in dataset path as the reference. The harness is client_overhead.py's: the known-timing fake server on
core 0, the client (`locust -f ... --headless`, every request recorded) on core 1, the client's CPU time and the
server's token counter sampled every 0.1 s, figures over a steady window.

    us/chunk    client CPU-microseconds per streamed token (one content chunk each): 1e6 / tok/s/core
    +us/chunk   the same minus self.chat's in the same case: what the mode costs per chunk on top of self.chat

Cases: unpaced (64 streams x 256 tokens, each answer in one burst: the client is the bottleneck, tok/s/core) and
paced (32 streams x 64 tokens, TTFT 100 ms, ITL 20 ms: the same work in every mode, CPU % differs).

    .venv/bin/python benchmarks/locustfile_api_cost.py                      # both cases, three modes (~2.5 min)
    .venv/bin/python benchmarks/locustfile_api_cost.py --modes chat,openai --cases unpaced
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from client_overhead import NICE, ROOT, Case, FakeServer, sample_client, steady_window

CASES = {"unpaced": Case(64, 256, 0.0, 0.0, run_s=12.0, window_s=6.0), "paced": Case(32, 64, 0.1, 0.02)}
MODES = ("dataset", "chat", "openai")
LOCUSTFILES = {
    "chat": """
from locust import task
from llmload import LlmUser
MESSAGES = [{"role": "user", "content": "Say something."}]
class ChatUser(LlmUser):
    @task
    def ask(self):
        self.chat(MESSAGES, max_tokens=TOKENS, ignore_eos=True)
""",
    "openai": """
from locust import task
from llmload import LlmUser
MESSAGES = [{"role": "user", "content": "Say something."}]
class SdkUser(LlmUser):
    @task
    def ask(self):
        text = ""
        for chunk in self.openai.chat.completions.create(model=self.model, messages=MESSAGES, stream=True,
                                                         max_tokens=TOKENS, extra_body={"ignore_eos": True}):
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
""",
}


def client_argv(mode: str, case: Case, url: str, out: Path) -> list[str]:
    common = ["--headless", "--host", url, "--step-users", str(case.streams), "--step-duration", f"{case.run_s}s",
              "--run-dir", str(out / "run"), "--warmup", "1", "--metrics-interval", "0", "--only-summary",
              "--stop-timeout", "60", "--loglevel", "WARNING"]  # fmt: skip
    if mode == "dataset":
        return [sys.executable, "-m", "locust", "-f", str(ROOT / "src/llmload/load/plate_detection.py"), *common,
                "--dataset", str(ROOT / "datasets/plate_comments.jsonl"), "--batch-size", "1", "--max-tokens",
                str(case.tokens), "--ignore-eos"]  # fmt: skip
    locustfile = out / f"{mode}_locustfile.py"
    locustfile.write_text(LOCUSTFILES[mode].replace("TOKENS", str(case.tokens)))
    return [sys.executable, "-m", "locust", "-f", str(locustfile), *common]


def measure(mode: str, case: Case, server: FakeServer, out: Path) -> dict[str, float | str]:
    out.mkdir(parents=True, exist_ok=True)
    sampler, _ = sample_client(client_argv(mode, case, server.url, out), case, server, out)
    window = steady_window(sampler.samples, case)
    records = [json.loads(line) for line in (out / "run" / "records.jsonl").open()]
    exact = all(r["ok"] and r["output_tokens"] == case.tokens == len(r["chunk_s"]) for r in records)
    if window is None:
        return {"note": f"no steady window (see {out / 'client.log'})"}
    (t_a, cpu_a, tok_a, _, _), (t_b, cpu_b, tok_b, _, _) = sampler.samples[window[0]], sampler.samples[window[1]]
    tok_s, cpu_frac = (tok_b - tok_a) / (t_b - t_a), (cpu_b - cpu_a) / (t_b - t_a)
    return {"tok_s": tok_s, "cpu_frac": cpu_frac, "us_per_chunk": 1e6 * cpu_frac / tok_s, "exact": str(exact)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--port", type=int, default=8641)
    p.add_argument("--nice", type=int, default=-10 if os.geteuid() == 0 else 0)
    args = p.parse_args()
    if args.nice:
        NICE[:] = ["nice", "-n", str(args.nice)]
        os.nice(args.nice)
    work = Path(tempfile.mkdtemp(prefix="llmload-api-cost-"))
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  load before: {os.getloadavg()[0]:.2f}  work: {work}")
    print("| case | mode | tok/s | CPU % | us/chunk | +us/chunk vs self.chat | exact |\n|---|---|---:|---:|---:|---:|---|")
    for name in args.cases.split(","):
        case = CASES[name]
        server = FakeServer(case, args.port, work / f"server-{name}.log")
        try:
            results = {mode: measure(mode, case, server, work / f"{name}-{mode}") for mode in args.modes.split(",")}
        finally:
            server.stop()
        base = results.get("chat", {}).get("us_per_chunk")
        for mode, r in results.items():
            if "note" in r:
                print(f"| {name} | {mode} | {r['note']} |")
                continue
            extra = "" if base is None or mode == "chat" else f"{float(r['us_per_chunk']) - float(base):+.2f}"
            print(f"| {name} {case.streams}x{case.tokens} | {mode} | {float(r['tok_s']):,.0f} | "
                  f"{100 * float(r['cpu_frac']):.1f} | {float(r['us_per_chunk']):.2f} | {extra} | {r['exact']} |",
                  flush=True)  # fmt: skip
    print(f"# load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
