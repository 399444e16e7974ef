"""The simulated server's app, startup and the blocking ``serve_sim`` entry point."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import socket
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry

from llmload.errors import UsageError
from llmload.sim.content import estimate_prompt_tokens
from llmload.sim.metrics import make_registry, render_metrics
from llmload.sim.profile import SimProfile, load_profile
from llmload.sim.runtime import SimRuntime
from llmload.sim.server import RNG_KEY, RUNTIME_KEY, SIM_VERSION, chat_completions, error_response

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
        count = estimate_prompt_tokens([str(body.get("prompt", ""))], p.tokens_per_char, 0)
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
        "num_gpu_blocks": p.num_gpu_blocks, "metrics_time_base": "wall",
        "note": "multiply wall-clock seconds by time_scale to get the profile's seconds",
        "dispatch_lag_wall_s": {"mean": rt.lag_sum_wall_s / max(1, rt.lag_count), "max": rt.lag_max_wall_s},
    })


def build_app(runtime: SimRuntime, seed: int) -> web.Application:
    app = web.Application()
    app[RUNTIME_KEY] = runtime
    app[RNG_KEY] = random.Random(seed)
    app[REGISTRY_KEY] = make_registry(runtime)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", health)
    app.router.add_get("/version", version)
    app.router.add_post("/tokenize", tokenize)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/llmload/sim", sim_info)
    return app


@dataclass
class SimServer:
    runner: web.AppRunner
    runtime: SimRuntime
    driver: asyncio.Task[None]
    host: str
    port: int

    async def close(self) -> None:
        self.driver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.driver
        await self.runner.cleanup()


async def start_sim_server(profile: SimProfile, host: str = "127.0.0.1", port: int = 8000,
                           time_scale: float | None = None, seed: int = 0) -> SimServer:
    """Start serving on the running loop (port 0 = ephemeral); returns a handle with the bound port."""
    scale = profile.time_scale if time_scale is None else time_scale
    if not scale > 0:
        raise UsageError(f"--time-scale must be > 0, got {scale}")
    runtime = SimRuntime(profile, scale)
    runner = web.AppRunner(build_app(runtime, seed), handler_cancellation=True, access_log=None)
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
    return SimServer(runner, runtime, driver, host, sock.getsockname()[1])


async def _serve_forever(profile: SimProfile, host: str, port: int, time_scale: float | None, seed: int) -> None:
    server = await start_sim_server(profile, host, port, time_scale, seed)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"llmload sim: profile {profile.name} (model {profile.model}) on http://{host}:{server.port}"
          f" time_scale {server.runtime.time_scale}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.close()


def serve_sim(profile_name_or_path: str, host: str = "127.0.0.1", port: int = 8000,
              time_scale: float | None = None, seed: int = 0) -> None:
    """Serve a simulated vLLM until SIGINT/SIGTERM (blocking)."""
    profile = load_profile(profile_name_or_path)
    asyncio.run(_serve_forever(profile, host, port, time_scale, seed))
