"""The chat format the project's models speak: ChatML, with the assistant's part marked.

The ``{% generation %}`` block around each assistant reply lets transformers
return an assistant-token mask (``return_assistant_tokens_mask=True``), which is
how TRL trains on the model's own tokens only. The end-of-turn token closes the
reply inside the block, so the model learns to stop.
"""

from __future__ import annotations

TURN_START = "<|im_start|>"
TURN_END = "<|im_end|>"
"""Closes every turn; the token generation stops at."""

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""ChatML with generation markers; any role name is accepted, as ChatML allows."""
