"""Small blocking JSON/text GETs for preflight and target discovery (not on the measuring hot path)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from llmload.errors import UsageError


class TargetUnreachable(Exception):
    """The target could not be reached at all (exit code 3 in the CLI)."""


def http_get(url: str, timeout_s: float = 5.0, api_key: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - user-given target
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TargetUnreachable(f"cannot reach {url}: {reason}") from None


def get_json(url: str, timeout_s: float = 5.0, api_key: str | None = None) -> tuple[int, Any]:
    status, body = http_get(url, timeout_s, api_key)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


class ModelListUnavailable(Exception):
    """The target answered /v1/models, but not with a model list (transformers serve: HTTP 500)."""


def list_models(base_url: str, api_key: str | None = None, timeout_s: float = 10.0) -> list[str]:
    """The served model ids; TargetUnreachable when nothing answers, ModelListUnavailable when the answer
    is not a model list."""
    status, data = get_json(base_url.rstrip("/") + "/v1/models", timeout_s, api_key)
    if status != 200 or not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ModelListUnavailable(f"{base_url}/v1/models answered HTTP {status}, not a model list")
    return [str(m.get("id")) for m in data["data"] if isinstance(m, dict) and m.get("id")]


def model_context(base_url: str, api_key: str | None, model: str) -> int | None:
    """The model's context length (vLLM's /v1/models `max_model_len`), None where the server does not say."""
    try:
        status, data = get_json(base_url.rstrip("/") + "/v1/models", 10.0, api_key)
    except TargetUnreachable:
        return None
    cards = data.get("data") if status == 200 and isinstance(data, dict) else None
    for card in cards if isinstance(cards, list) else []:
        if isinstance(card, dict) and card.get("id") == model and isinstance(card.get("max_model_len"), int):
            return int(card["max_model_len"])
    return None


def served_models(base_url: str, api_key: str | None, model: str) -> tuple[list[str], str | None]:
    """(the served models, a warning or None). A server that lists no models still runs with the model the
    user named (--model), with a warning; without one it is a usage error. TargetUnreachable propagates."""
    try:
        return list_models(base_url, api_key), None
    except ModelListUnavailable as exc:
        if not model:
            raise UsageError(f"{exc}: name the model with --model") from None
        return [model], f"{exc}; using --model {model!r} as given"


def simulator_info(base_url: str, timeout_s: float = 5.0) -> dict[str, Any] | None:
    """The llmload simulator describes itself (profile, time scale); any other server returns None."""
    try:
        status, data = get_json(base_url.rstrip("/") + "/llmload/sim", timeout_s)
    except TargetUnreachable:
        return None
    if status == 200 and isinstance(data, dict) and data.get("simulated") is True:
        return data
    return None


def server_version(base_url: str, timeout_s: float = 3.0) -> str | None:
    """vLLM's ``GET /version`` (``{"version": "0.13.0"}``), or None where the server exposes none."""
    try:
        status, data = get_json(base_url.rstrip("/") + "/version", timeout_s)
    except TargetUnreachable:
        return None
    if status == 200 and isinstance(data, dict) and data.get("version"):
        return str(data["version"])
    return None
