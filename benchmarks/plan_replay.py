"""`--users auto --step-duration auto` replayed in virtual time on a simulator profile's engine (no HTTP, no
Locust): a fraction of a second per plan instead of minutes, so the plan's choices can be judged over many runs.

    .venv/bin/python benchmarks/plan_replay.py --runs 300                  # the seed: knee, limit, target time
    .venv/bin/python benchmarks/plan_replay.py --runs 300 --near-knee 0.01  # levels near the knee to 1%
    .venv/bin/python benchmarks/plan_replay.py --runs 100 --climb           # without the KV path
    .venv/bin/python benchmarks/plan_replay.py --profile kv-12 --tick 1 --scrape 1 --runs 50 --show 2

Kept from a real run: closed-loop users (the next request the moment an answer ends), users joining at random
moments of the answer expected at their level, stratified (load.shape, RunContext.join_delay_s), and leaving
after their answer, the shape's tick
(10 s of target time: 1 s wall at time scale 10), /metrics scraped as often (KV usage, preemptions, queue),
the in-flight warm-up and each level's stop rule (llmload.step_stop, AdaptivePlan.stop_rule), and the
report's knee rule over work-in-window throughput. Left out: the client's turnaround, HTTP, timing jitter, and
prompt lengths varying with the dataset (the profile's mean prompt for every request).
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from llmload.analysis.knee import find_knee
from llmload.analysis.knee_model import KneeLevel
from llmload.load import adaptive, kv_aim
from llmload.load.adaptive import AUTO_STEPS_START, AdaptivePlan
from llmload.load.context import join_delay_s
from llmload.load.level_measurement import Measurement, expected_answer_s
from llmload.load.recorder import measure_step
from llmload.sim.engine import VllmEngine
from llmload.sim.predict import sample_output_tokens
from llmload.sim.sim_profile import load_profile
from llmload.steady import share_in_window, steady_mask
from llmload.step_stop import StopRule, decide, precision

SEED_BARS = {"knee": (27, 29), "limit": (30, 34), "target_min": 20.0}  # issue 19's goal on the seed profile


@dataclass
class Loop:
    """Closed-loop users on the engine, in the target's seconds."""

    profile: Any
    rng: random.Random
    engine: VllmEngine = field(init=False)
    t: float = 0.0
    requests: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> (user, sent)
    users: dict[int, bool] = field(default_factory=dict)  # user -> leaving after its answer
    joins: list[tuple[float, int]] = field(default_factory=list)
    records: list[tuple[float, float]] = field(default_factory=list)  # (sent, ended)
    scrapes: list[tuple[float, int, int, float, int]] = field(default_factory=list)  # t, waiting, running, kv, pre
    joined: int = 0  # users so far: the next one's id

    def __post_init__(self) -> None:
        self.engine = VllmEngine(self.profile)

    def send(self, user: int) -> None:
        request = f"r{len(self.records) + len(self.requests)}-{user}-{self.t}"
        self.requests[request] = (user, self.t)
        out = sample_output_tokens(self.profile, self.rng, self.profile.max_model_len - self.profile.workload_prompt_tokens)
        self.engine.add_request(request, self.profile.workload_prompt_tokens, out, self.t)

    def set_users(self, users: int, spread_s: float) -> None:
        staying = [u for u, leaving in self.users.items() if not leaving]
        now = len(staying) + len(self.joins)
        for k in range(users - now):
            heapq.heappush(self.joins, (self.t + join_delay_s(k, users - now, self.rng.random(), spread_s), self.joined))
            self.joined += 1
        for user in sorted(staying, reverse=True)[: max(0, now - users)]:
            self.users[user] = True

    def run_until(self, t_end: float) -> None:
        while True:
            candidates = [t for t in (t_end, self.engine.next_change_s(), self.joins[0][0] if self.joins else None)
                          if t is not None]  # fmt: skip
            self.t = max(self.t, min(candidates))
            self.engine.advance(self.t, start_at_until=False)
            for done in self.engine.drain_finished():
                user, sent = self.requests.pop(done.req_id)
                self.records.append((sent, done.finish_s))
                if self.users[user]:
                    del self.users[user]
                else:
                    self.send(user)
            while self.joins and self.joins[0][0] <= self.t:
                user = heapq.heappop(self.joins)[1]
                self.users[user] = False
                self.send(user)
            self.engine.advance(self.t)
            if self.t >= t_end:
                return

    def scrape(self) -> None:
        st = self.engine.stats()
        self.scrapes.append((self.t, st.waiting, st.running, st.kv_usage, st.preemptions_total))

    def server(self, start: float, end: float) -> dict[str, float] | None:
        inside = [s for s in self.scrapes if start <= s[0] < end]
        if not inside:
            return None
        before = [s[4] for s in self.scrapes if s[0] < start] or [inside[0][4]]
        return {"waiting_mean": statistics.fmean(s[1] for s in inside), "running_mean": statistics.fmean(s[2] for s in inside),
                "kv_usage_mean": statistics.fmean(s[3] for s in inside), "preemptions": float(inside[-1][4] - before[-1])}  # fmt: skip


def with_server(m: Measurement | None, loop: Loop, now: float) -> Measurement | None:
    server = loop.server(m.window_start_s, now) if m is not None else None
    return replace(m, **server) if m is not None and server is not None else m


def run_step(loop: Loop, plan: AdaptivePlan, users: int, start: float, previous: int, spread: float,
             rule: StopRule, args: argparse.Namespace, index: int) -> dict[str, Any]:  # fmt: skip
    """One auto step: shape ticks until the plan's rule for the level ends it."""
    if not loop.scrapes:  # the first scrape as the first users start
        loop.run_until(loop.t)
        loop.scrape()
    while True:
        tick = loop.t + args.tick
        while loop.scrapes[-1][0] + args.scrape <= tick:
            loop.run_until(loop.scrapes[-1][0] + args.scrape)
            loop.scrape()
        loop.run_until(tick)
        spans = [r for r in loop.records if r[1] >= start]
        straddling = [end for sent, end in spans if sent < start]
        warm = None
        if len(straddling) >= previous and loop.t >= start + spread:
            warm = max([start + spread, *straddling])
        so_far = with_server(measure_step(users, start, loop.t, spans, 1.0, warm), loop, loop.t) if warm else None
        step_rule = plan.stop_rule(rule, so_far)
        measured = None
        if warm is not None:
            steady = [(sent, end) for sent, end in spans if warm <= sent < loop.t and end <= loop.t]
            holds = [end - sent for sent, end in steady]
            measured = precision(holds, holds, seed=index)
        decision = decide(step_rule, loop.t - start, measured, warm)
        if decision is not None:
            m = with_server(measure_step(users, start, loop.t, spans, 1.0, warm), loop, loop.t)
            return {"users": users, "start": start, "end": loop.t, "warm": warm, "decision": decision, "measurement": m,
                    "rule": step_rule, "answer_s": float(np.median([e - s for s, e in spans])) if spans else None}  # fmt: skip


def play(seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """One plan: the steps as run, the report's knee and limit, the target time used."""
    loop, plan = Loop(load_profile(args.profile), random.Random(seed)), AdaptivePlan(AUTO_STEPS_START, args.max_users)
    rule = StopRule(min_samples=30, tolerance=0.05, max_step_s=900.0)
    levels, steps, start, previous, spread = plan.steps(), [], 0.0, 0, 0.0
    users: int | None = next(levels)
    while users is not None:
        loop.set_users(users, spread)
        step = run_step(loop, plan, users, start, previous, spread if users > previous else 0.0, rule, args, len(steps))
        steps.append(step)
        try:
            nxt = levels.send(step["measurement"] or Measurement(users, 0.0, float("inf")))
        except StopIteration:
            nxt = None
        expected = expected_answer_s(plan.measured, nxt) if nxt else None
        start, previous, spread, users = loop.t, users, max(step["answer_s"] or 0.0, expected or 0.0), nxt
    ended = loop.t
    loop.set_users(0, 0.0)
    loop.run_until(ended + 1000.0)
    knee, limit = report_knee(loop, steps)
    return {"steps": steps, "knee": knee, "limit": limit, "target_min": ended / 60}


def report_knee(loop: Loop, steps: list[dict[str, Any]]) -> tuple[int | None, int | None]:
    """The report's rule (analysis.knee) over each step's work in its steady window."""
    records = np.asarray(loop.records)
    sent, ended = records[:, 0], records[:, 1]
    levels, server = [], []
    for step in steps:
        warm, end = step["end"] if step["warm"] is None else step["warm"], step["end"]
        step["rps"] = share_in_window(sent, ended, warm, end).sum() / (end - warm) if end > warm else None
        e2e = (ended - sent)[steady_mask(np.ones(len(sent), dtype=bool), sent, ended, warm, end)]
        p50 = float(np.median(e2e)) if e2e.size else None
        levels.append(KneeLevel(step["users"], step["rps"], None, p50, None, None, None, int(e2e.size)))
        if (s := loop.server(warm, end)) is not None:
            server.append({"users": step["users"], **s})
    result = find_knee(levels, server=server)
    return (result.knee.users if result.knee else None), (result.limit.users if result.limit else None)


def show(run: dict[str, Any]) -> None:
    print(f"  knee {run['knee']} limit {run['limit']} target {run['target_min']:.1f} min")
    for s in run["steps"]:
        m, d = s["measurement"], s["decision"]
        print(f"  {s['users']:>4} {s['end'] - s['start']:>5.0f} s  {d.samples:>4} samples  {s['rps'] or 0:.3f} req/s "
              f"±{d.rps_ci_rel or 0:.1%} (to {s['rule'].throughput_tolerance:.1%})  KV {m.kv_usage_mean or 0:.3f}  "
              f"preempted {m.preemptions or 0:.0f}  {d.reason}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="qwen3-32b-awq-2x4090")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--tick", type=float, default=10.0, help="target seconds between shape ticks")
    parser.add_argument("--scrape", type=float, default=10.0, help="target seconds between /metrics scrapes")
    parser.add_argument("--max-users", type=int, default=256)
    parser.add_argument("--near-knee", type=float, help="the throughput tolerance near the knee (default: the plan's)")
    parser.add_argument("--show", type=int, default=0, help="print the steps of the first N runs")
    parser.add_argument("--climb", action="store_true", help="without the KV path: the plan climbs (load.adaptive)")
    args = parser.parse_args()
    if args.near_knee is not None:
        adaptive.NEAR_KNEE_TOLERANCE = args.near_knee
    if args.climb:
        kv_aim.KV_EVIDENCE_MIN = math.inf
    runs = [play(seed, args) for seed in range(args.runs)]
    for run in runs[: args.show]:
        show(run)
    times = sorted(r["target_min"] for r in runs)
    print(f"{args.runs} runs of {args.profile}: steps {statistics.fmean(len(r['steps']) for r in runs):.1f} on average; "
          f"target time p50 {times[len(times) // 2]:.1f} min, p90 {times[int(0.9 * len(times))]:.1f}, max {times[-1]:.1f}")  # fmt: skip
    for key in ("knee", "limit"):
        counts = statistics.multimode([r[key] for r in runs])
        spread = {v: sum(r[key] == v for r in runs) for v in sorted({r[key] or 0 for r in runs})}
        print(f"{key}: {spread} (most often {counts})")
    if args.profile == "qwen3-32b-awq-2x4090":
        (k0, k1), (l0, l1), bar = SEED_BARS["knee"], SEED_BARS["limit"], SEED_BARS["target_min"]
        met = [k0 <= (r["knee"] or 0) <= k1 and l0 <= (r["limit"] or 0) <= l1 and r["target_min"] < bar for r in runs]
        print(f"issue 19's goal (knee {k0}-{k1}, limit {l0}-{l1}, under {bar:.0f} min): {sum(met)} of {len(runs)} runs")


if __name__ == "__main__":
    main()
