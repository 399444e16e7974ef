"""Build a tiny Qwen3-shaped model with random weights and a locally trained tokenizer.

Standalone: run it with the vLLM venv's python (it needs torch, transformers and tokenizers), e.g.
    ~/.cache/llmload/vllm-venv/bin/python serve/tiny_model/build.py
Nothing is downloaded. The output folder (default ``$LLMLOAD_MODEL_CACHE/tiny-qwen3``, i.e.
``~/.cache/llmload/models/tiny-qwen3``) is what ``serve/profiles/tiny-cpu.toml`` serves. The weights are
random, so the text it generates is noise; its use is to give vLLM real work of a known size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
CHINESE = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说"
    "产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点"
    "从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原"
    "又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革"
    "车牌号码评论用户发现请列出所有出现的车辆今天路上看到一辆停在门口违章拍照举报谢谢大家帮忙转发"
)
ENGLISH_TEXT = (
    "the of and to in is you that it he was for on are as with his they at be this have from or one had by "
    "word but not what all were we when your can said there use an each which she do how their if will up "
    "other about out many then them these so some her would make like him into time has look two more write "
    "go see number no way could people my than first water been call who oil its now find long down day did "
    "get come made may part license plate comment user model token request server latency throughput"
)
ENGLISH = ENGLISH_TEXT.split()


def corpus_lines(n_lines: int, seed: int) -> list[str]:
    """Mixed Chinese / English / plate-number text, generated locally from a fixed seed."""
    rng = random.Random(seed)
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    lines = []
    for _ in range(n_lines):
        parts = []
        for _ in range(rng.randint(4, 16)):
            kind = rng.random()
            if kind < 0.45:
                parts.append("".join(rng.choice(CHINESE) for _ in range(rng.randint(1, 12))))
            elif kind < 0.80:
                parts.append(" ".join(rng.choice(ENGLISH) for _ in range(rng.randint(1, 8))))
            elif kind < 0.92:
                plate = rng.choice(PROVINCES) + rng.choice(letters)
                plate += "".join(rng.choice(letters + "0123456789") for _ in range(5))
                parts.append(plate)
            else:
                parts.append(str(rng.randint(0, 100000)) + rng.choice([".", ",", "，", "。", "！", "?", ":"]))
        lines.append(" ".join(parts))
    return lines


def build_tokenizer(out_dir: Path, vocab_size: int, seed: int) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus_lines(20000, seed), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
        model_max_length=32768,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(str(out_dir))


def build_model(out_dir: Path, args: argparse.Namespace, vocab_size: int, eos_id: int, pad_id: int) -> int:
    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(args.seed)
    head_dim = 64
    config = Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=args.hidden,
        intermediate_size=args.hidden * 3,
        num_hidden_layers=args.layers,
        num_attention_heads=args.hidden // head_dim,
        num_key_value_heads=max(1, args.hidden // head_dim // 4),
        head_dim=head_dim,
        max_position_embeddings=32768,
        tie_word_embeddings=True,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        bos_token_id=None,
        torch_dtype=args.dtype,
    )
    dtype = getattr(torch, args.dtype)
    with torch.device(args.device):  # a multi-billion-parameter shape initialises in seconds on a GPU
        torch.set_default_dtype(dtype)
        model = Qwen3ForCausalLM(config).to(dtype)
    model.generation_config = GenerationConfig(eos_token_id=eos_id, pad_token_id=pad_id)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    return sum(p.numel() for p in model.parameters())


def parse_args() -> argparse.Namespace:
    cache = Path(os.environ.get("LLMLOAD_MODEL_CACHE", Path.home() / ".cache" / "llmload" / "models"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=cache.expanduser() / "tiny-qwen3")
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--vocab-size", type=int, default=8192)
    parser.add_argument("--dtype", choices=["bfloat16", "float32"], default="float32")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="where the weights are initialised (cpu, cuda)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the folder is complete")
    return parser.parse_args()


BUILD_STAMP = "llmload_build.json"


def build_spec(args: argparse.Namespace) -> dict[str, object]:
    """What decides the model's content; a folder built from another spec is rebuilt."""
    return {k: getattr(args, k) for k in ("layers", "hidden", "vocab_size", "dtype", "seed")}


def main() -> None:
    args = parse_args()
    out: Path = args.out
    stamp = out / BUILD_STAMP
    if not args.force and stamp.is_file() and json.loads(stamp.read_text()) == build_spec(args):
        print(f"tiny model already built at {out}")
        return
    start_s = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tiny-qwen3-", dir=out.parent))
    try:
        build_tokenizer(tmp, args.vocab_size, args.seed)
        tok_json = json.loads((tmp / "tokenizer.json").read_text(encoding="utf-8"))
        vocab, added = tok_json["model"]["vocab"], tok_json["added_tokens"]
        ids = {t["content"]: t["id"] for t in added}
        vocab_size = max(len(vocab), max(ids.values()) + 1)
        vocab_size = (vocab_size + 63) // 64 * 64
        n_params = build_model(tmp, args, vocab_size, ids["<|im_end|>"], ids["<|endoftext|>"])
        (tmp / BUILD_STAMP).write_text(json.dumps(build_spec(args)) + "\n")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)  # atomic: a half-built model is never left at the final path
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    took_s = time.monotonic() - start_s
    print(
        f"built {out}: {args.layers} layers x {args.hidden}, {n_params / 1e6:.1f} M params, {args.dtype}, {took_s:.1f} s"
    )


if __name__ == "__main__":
    main()
