"""Generate a comment dataset with an OpenAI-compatible server (the seed's own method).

The model writes comments one per line; we strip reasoning, numbering and bullets,
label plates with ``extract_plates`` and validate each row like ``load_dataset`` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from llmload.errors import UsageError
from llmload.scenarios.chat import strip_reasoning
from llmload.scenarios.plates.comment_dataset import CommentRow, row_from_obj
from llmload.scenarios.plates.plate_format import extract_plates

COMMENTS_PER_REQUEST = 50
MIN_COMMENT_CHARS = 4
MAX_COMMENT_CHARS = 100
TEMPERATURE = 0.9

GENERATION_PROMPT = (
    "请写{count}条互不重复的中文社交媒体短评，分别来自不同的行业和场景，"
    "例如餐饮、旅游、游戏、职场、购物、交通、宠物、理财、健康、教育、天气、娱乐、体育、数码、家庭。\n"
    "要求：\n"
    "- 大约十分之一的评论各自提到一个虚构的中国车牌号（普通车牌7位，新能源车牌8位），要自然地写在句子里；\n"
    "- 长度有长有短，短的六七个字，长的四十字左右，平均二十字左右；\n"
    "- 每行一条评论，不要编号、不要行业标签、不要任何解释或标题。"
)

# "1. " "2、" "3)" "(4)" "第5条：" "- " "* " "• " at the start of a line; "5.5折" is left alone.
_LEAD_RE = re.compile(r"^(?:[-*•·]+\s*|\d+(?:[.．:：](?!\d)|[、)）])\s*|[(（]\d+[)）]\s*|第\d+条[:：]?\s*)+")
_QUOTES = "\"'“”‘’「」"


def clean_line(line: str) -> str:
    """One model output line without numbering, bullets, bold marks or wrapping quotes."""
    text = _LEAD_RE.sub("", line.strip()).replace("**", "").strip()
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text


def parse_generated_text(text: str) -> list[str]:
    """Comment lines from a generation reply: reasoning dropped, blank/heading/fence lines skipped."""
    comments: list[str] = []
    for raw in strip_reasoning(text).splitlines():
        line = clean_line(raw)
        if not line or line.startswith(("#", "```", "---")) or line.endswith((":", "：")):
            continue
        if MIN_COMMENT_CHARS <= len(line) <= MAX_COMMENT_CHARS:
            comments.append(line)
    return comments


def _row(index: int, width: int, text: str) -> CommentRow | None:
    obj = {"id": f"g{index:0{width}d}", "text": text, "plates": extract_plates(text)}
    obj |= {"industry": "unknown", "scene": "llm-generated"}
    try:
        return row_from_obj(obj)
    except ValueError:
        return None


def collect_comments(
    count: int, ask: Callable[[int, int], str], max_requests: int | None = None
) -> list[CommentRow]:
    """Call ``ask(wanted, attempt)`` until ``count`` unique valid comments are gathered (ids g001...)."""
    if count < 1:
        raise UsageError(f"--count must be at least 1, got {count}")
    limit = max_requests if max_requests is not None else 2 * (-(-count // COMMENTS_PER_REQUEST)) + 3
    width = max(3, len(str(count)))
    rows: list[CommentRow] = []
    seen: set[str] = set()
    for attempt in range(limit):
        for line in parse_generated_text(ask(min(COMMENTS_PER_REQUEST, count - len(rows)), attempt)):
            row = None if line in seen else _row(len(rows) + 1, width, line)
            if row is not None:
                seen.add(line)
                rows.append(row)
            if len(rows) == count:
                return rows
    raise UsageError(f"the model gave only {len(rows)} usable comments of {count} after {limit} requests")


def _base_url(host: str) -> str:
    url = host.rstrip("/")
    if "://" not in url:
        url = "http://" + url
    return url if url.endswith("/v1") else url + "/v1"


def generate_via_llm(host: str, model: str, count: int, api_key: str | None, seed: int) -> list[CommentRow]:
    """``count`` comments written by ``model`` at ``host`` (e.g. http://127.0.0.1:4444), non-streaming."""
    import openai
    from openai.types.chat import ChatCompletionUserMessageParam

    client = openai.OpenAI(base_url=_base_url(host), api_key=api_key or "EMPTY")

    def ask(wanted: int, attempt: int) -> str:
        message = ChatCompletionUserMessageParam(role="user", content=GENERATION_PROMPT.format(count=wanted))
        try:
            reply = client.chat.completions.create(
                model=model, messages=[message], temperature=TEMPERATURE, seed=seed + attempt
            )
        except openai.OpenAIError as exc:
            raise UsageError(f"{host}: generation request failed: {exc}") from None
        return (reply.choices[0].message.content or "") if reply.choices else ""

    return collect_comments(count, ask)
