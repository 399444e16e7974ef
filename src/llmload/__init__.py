"""llmload: load testing and capacity planning for OpenAI-compatible LLM servers.

`from llmload import LlmUser` is the API of your own locustfile (llmload.load.user; docs/locustfile.md "Your own
locustfile"). It is imported on first use: importing Locust patches the standard library for gevent, which
nothing else of llmload may do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmload.version import __version__

__all__ = ["LlmUser", "Reply", "RequestFailed", "__version__"]

if TYPE_CHECKING:
    from llmload.load.locustfile_requests import Reply
    from llmload.load.openai_shape import RequestFailed
    from llmload.load.user import LlmUser


def __getattr__(name: str) -> Any:
    if name == "LlmUser":
        from llmload.load.user import LlmUser

        return LlmUser
    if name == "Reply":
        from llmload.load.locustfile_requests import Reply

        return Reply
    if name == "RequestFailed":
        from llmload.load.openai_shape import RequestFailed

        return RequestFailed
    raise AttributeError(f"module 'llmload' has no attribute {name!r}")
