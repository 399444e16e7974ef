"""The plate-detection scenario: a comment-patrol bot lists every Chinese licence plate in a batch of
social-media comments.

``plate_format`` (the plate rules and matcher), ``plate_scoring`` (precision/recall of the plates a reply
lists), ``comment_dataset`` (the JSONL rows), ``comment_generator`` with ``phrases`` (the seeded synthetic
set) and ``comments_via_llm`` (a set written by a served model), ``plate_prompt`` (the task's messages) and
``plate_scenario`` (what the load side asks for: a request's messages and expected plates; pure).
"""
