from __future__ import annotations

from pathlib import Path

import pytest

from llmload.errors import UsageError
from llmload.kvbudget import kv_budget_tokens, kv_bytes_per_token
from llmload.scenarios.plates.plate_format import extract_plates
from llmload.scenarios.prompt_tokens import estimate_prompt_tokens
from llmload.sim.content import completion_pieces
from llmload.sim.sim_profile import list_profiles, load_profile


def test_kv_budget_arithmetic() -> None:
    assert kv_bytes_per_token(64, 8, 128, 2) == 262144
    # (24*2*0.85 - 19 - 6.5) GiB = 15.3 GiB = 15.3 * 4096 tokens of 256 KiB
    assert kv_budget_tokens(24.0, 2, 0.85, 19.0, 6.5, 262144) == 62668
    with pytest.raises(ValueError, match="no memory left"):
        kv_budget_tokens(24.0, 1, 0.85, 19.0, 2.0, 262144)


def test_shipped_profiles_load() -> None:
    names = list_profiles()
    assert {"qwen3-32b-awq-2x4090", "max-seqs-8", "kv-12", "fixed-100ms-20ms", "tiny"} <= set(names)
    seed = load_profile("qwen3-32b-awq-2x4090")
    assert (seed.max_num_seqs, seed.kv_budget_tokens, seed.num_gpu_blocks, seed.time_scale) == (64, 62668, 3916, 100.0)
    assert load_profile("max-seqs-8").kv_budget_tokens is None
    fixed = load_profile("fixed-100ms-20ms")
    assert (fixed.engine, fixed.ttft_s, fixed.itl_s, fixed.output_tokens) == ("fixed", 0.1, 0.02, 64)


def test_profile_by_path_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "mine.toml"
    good.write_text('model = "x"\nkv_budget_tokens = 4096\n', encoding="utf-8")
    assert load_profile(str(good)).name == "mine"
    bad = tmp_path / "bad.toml"
    bad.write_text('model = "x"\n\nmax_num_seqz = 3\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"bad\.toml:3: unknown key 'max_num_seqz'"):
        load_profile(str(bad))
    bad.write_text('model = "x"\nmax_num_seqs = 0\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"bad\.toml:2: bad value for 'max_num_seqs'"):
        load_profile(str(bad))
    bad.write_text('model = "x"\nkv_budget_tokens = 10\ngpu_memory_gib = 24.0\n', encoding="utf-8")
    with pytest.raises(UsageError, match="not both"):
        load_profile(str(bad))
    with pytest.raises(UsageError, match="no such sim profile"):
        load_profile("no-such-profile")


def test_completion_pieces_are_exact_and_list_plates() -> None:
    text = "路上看到京A12345和粤B1234D，还有京A12345"
    assert extract_plates(text) == ["京A12345", "粤B1234D"]
    pieces = completion_pieces(text, 100)
    assert len(pieces) == 100
    joined = "".join(pieces)
    assert joined.startswith("<think>") and "</think>" in joined
    assert joined.endswith("1. 京A12345\n2. 粤B1234D\n")
    assert len(completion_pieces(text, 3)) == 3
    # the one estimator: 0.3 per ASCII char, the profile's rate per CJK char, per-message + primer
    assert estimate_prompt_tokens(["abcdefghij", "xyz"], 0.7, 4) == 15  # 13*0.3 + 2*4 + 3 = 14.9
    assert estimate_prompt_tokens(["评论巡查员"], 0.6, 5) == 11  # 5*0.6 + 5 + 3
