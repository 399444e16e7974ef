"""The simulated server's app, startup and the blocking ``serve_sim`` entry point."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
import random
import signal
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry

from llmload.errors import UsageError
from llmload.scenarios.prompt_tokens import estimate_prompt_tokens, estimate_text_tokens
from llmload.sim.chat_completions import (
    FAULTS_KEY,
    RNG_KEY,
    RUNTIME_KEY,
    SIM_VERSION,
    chat_completions,
    error_response,
    text_completions,
)
from llmload.sim.faults import FaultInjector, FaultPlan, SimFaults, build_plan, flag_items, merge_plans
from llmload.sim.metrics_exposition import make_registry, render_metrics
from llmload.sim.realtime import SimRuntime
from llmload.sim.sim_profile import SimProfile, load_profile

REGISTRY_KEY: web.AppKey[CollectorRegistry] = web.AppKey("registry", CollectorRegistry)


def _runtime(request: web.Request) -> SimRuntime:
    return request.app[RUNTIME_KEY]


async def models(request: web.Request) -> web.Response:
    p = _runtime(request).profile
    card = {"id": p.model, "object": "model", "created": 0, "owned_by": "vllm", "root": p.model, "parent": None,
            "max_model_len": p.max_model_len, "permission": []}
    return web.json_response({"object": "list", "data": [card]})


async def health(request: web.Request) -> web.Response:
    return web.Response(status=200)


async def version(request: web.Request) -> web.Response:
    return web.json_response({"version": SIM_VERSION})


async def tokenize(request: web.Request) -> web.Response:
    p = _runtime(request).profile
    try:
        body = await request.json()
    except ValueError:
        return error_response(400, "request body is not valid JSON", "BadRequestError")
    if not isinstance(body, dict):
        return error_response(400, "request body must be a JSON object", "BadRequestError")
    if isinstance(body.get("messages"), list):
        texts = [m.get("content", "") if isinstance(m, dict) and isinstance(m.get("content"), str) else ""
                 for m in body["messages"]]
        count = estimate_prompt_tokens(texts, p.tokens_per_char, p.tokens_per_message)
    else:
        count = max(1, round(estimate_text_tokens(str(body.get("prompt", "")), tokens_per_cjk_char=p.tokens_per_char)))
    return web.json_response({"count": count, "max_model_len": p.max_model_len, "tokens": list(range(count))})


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[REGISTRY_KEY]
    body = render_metrics(registry)
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


async def sim_info(request: web.Request) -> web.Response:
    rt = _runtime(request)
    p = rt.profile
    return web.json_response({
        "simulated": True, "profile": p.name, "model": p.model, "engine": p.engine, "time_scale": rt.time_scale,
        "max_num_seqs": p.max_num_seqs, "kv_budget_tokens": p.kv_budget_tokens, "block_size": p.block_size,
        "num_gpu_blocks": p.num_gpu_blocks, "num_gpus": p.num_gpus, "metrics_time_base": "wall",
        "note": "multiply wall-clock seconds by time_scale to get the profile's seconds",
        "dispatch_lag_wall_s": {"mean": rt.lag_sum_wall_s / max(1, rt.lag_count), "max": rt.lag_max_wall_s,
                                "sum": rt.lag_sum_wall_s, "count": rt.lag_count},
        **request.app[FAULTS_KEY].info(),
    })


async def sim_requests(request: web.Request) -> web.Response:
    """The scheduler's own per-request phases (profile seconds) behind the /metrics histograms: ground truth
    for tests of the time split (the last sim.request_histograms.TRUTH_KEPT finished requests)."""
    return web.json_response(list(_runtime(request).histograms.truth))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def require_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    """With an API key set, /v1/* needs ``Authorization: Bearer KEY`` (as vLLM's --api-key); 401s are counted."""
    faults = request.app[FAULTS_KEY]
    if faults.api_key is not None and request.path.startswith("/v1/"):
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {faults.api_key}".encode()):
            faults.tally.unauthorized += 1
            return error_response(401, "Unauthorized", "AuthenticationError")
    return await handler(request)


def build_app(runtime: SimRuntime, seed: int, faults: SimFaults | None = None) -> web.Application:
    app = web.Application(middlewares=[require_api_key])
    app[FAULTS_KEY] = faults or SimFaults(FaultInjector(runtime.profile.faults, seed))
    app[RUNTIME_KEY] = runtime
    app[RNG_KEY] = random.Random(seed)
    app[REGISTRY_KEY] = make_registry(runtime)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/completions", text_completions)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", health)
    app.router.add_get("/version", version)
    app.router.add_post("/tokenize", tokenize)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/llmload/sim", sim_info)
    app.router.add_get("/llmload/sim/requests", sim_requests)
    return app


@dataclass
class SimServer:
    runner: web.AppRunner
    runtime: SimRuntime
    driver: asyncio.Task[None]
    host: str
    port: int
    faults: SimFaults

    def info_line(self) -> str:
        """One JSON line with the simulator's own request counts (printed when it stops or exits)."""
        info = self.faults.info()
        return "llmload sim: counts " + json.dumps({k: v for k, v in info.items() if k != "faults"})

    async def close(self) -> None:
        self.driver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.driver
        await self.runner.cleanup()


async def start_sim_server(profile: SimProfile, host: str = "127.0.0.1", port: int = 8000,
                           time_scale: float | None = None, seed: int = 0, faults: FaultPlan | None = None,
                           api_key: str | None = None) -> SimServer:
    """Start serving on the running loop (port 0 = ephemeral); returns a handle with the bound port.

    ``faults`` (default: the profile's) is the fault plan; its ``exit_at`` is acted on by ``serve_sim`` only.
    ``api_key``: require ``Authorization: Bearer KEY`` on /v1/*."""
    scale = profile.time_scale if time_scale is None else time_scale
    if not scale > 0:
        raise UsageError(f"--time-scale must be > 0, got {scale}")
    if not 0 <= port <= 65535:
        raise UsageError(f"--port: {port} must be between 0 and 65535")
    runtime = SimRuntime(profile, scale)
    sim_faults = SimFaults(FaultInjector(profile.faults if faults is None else faults, seed), api_key=api_key)
    runner = web.AppRunner(build_app(runtime, seed, sim_faults), handler_cancellation=True, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        await runner.cleanup()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    site = web.SockSite(runner, sock)
    await site.start()
    driver = asyncio.get_running_loop().create_task(runtime.run())
    return SimServer(runner, runtime, driver, host, sock.getsockname()[1], sim_faults)


def _exit_now(server: SimServer, after_s: float) -> None:
    """Fault ``exit_at``: the process dies at once (sockets closed by the kernel, no graceful shutdown)."""
    print(f"llmload sim: fault exit_at: exiting after {after_s:g} s", flush=True)
    print(server.info_line(), flush=True)
    os._exit(0)


async def _serve_forever(profile: SimProfile, host: str, port: int, time_scale: float | None, seed: int,
                         plan: FaultPlan, api_key: str | None) -> None:
    server = await start_sim_server(profile, host, port, time_scale, seed, plan, api_key)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if plan.exit_at_s is not None:
        loop.call_later(plan.exit_at_s, _exit_now, server, plan.exit_at_s)
    faults = f" faults {json.dumps(plan.describe())}" if plan.active else ""
    auth = " (API key required)" if api_key else ""
    print(f"llmload sim: profile {profile.name} (model {profile.model}) on http://{host}:{server.port}"
          f" time_scale {server.runtime.time_scale}{faults}{auth}", flush=True)
    try:
        await stop.wait()
    finally:
        print(server.info_line(), flush=True)
        await server.close()


def serve_sim(profile_name_or_path: str, host: str = "127.0.0.1", port: int = 8000,
              time_scale: float | None = None, seed: int = 0, fault_flags: list[str] | None = None,
              api_key: str | None = None) -> None:
    """Serve a simulated vLLM until SIGINT/SIGTERM (blocking). ``fault_flags``: ``KIND=SPEC`` strings
    (llmload.sim.faults), overriding the profile's ``[faults]`` per kind."""
    profile = load_profile(profile_name_or_path)
    plan = merge_plans(profile.faults, build_plan(flag_items(fault_flags or [])))
    asyncio.run(_serve_forever(profile, host, port, time_scale, seed, plan, api_key))
