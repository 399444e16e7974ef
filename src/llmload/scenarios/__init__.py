"""Workloads: what a request carries and how its answer is judged.

``chat`` and ``prompt_tokens`` hold what any chat scenario shares (the prompt forms, the reply without its
reasoning, a tokenizer-free prompt-token estimate); ``plates`` is the plate-detection scenario.
"""
