"""The four kinds of solve prompt every task offers, in the project's own words.

The paper found that sampling under several prompt styles gives more varied
attempts, which makes better traces. Each variant asks for the final answer inside
``<answer>...</answer>``; the task supplies the question and what the answer must
look like.
"""

from __future__ import annotations

from skillfactory.errors import UsageError
from skillfactory.records import Conversation, Message

PROMPT_VARIANTS: tuple[str, ...] = ("original", "plan_and_execute", "alternatively", "rephrase")
"""The variant names, the plain one first."""

VARIANT_DESCRIPTIONS: dict[str, str] = {
    "original": "solve step by step, then answer",
    "plan_and_execute": "write a plan first, then carry it out",
    "alternatively": "try several candidates, each opened with 'Alternatively,', then choose",
    "rephrase": "restate the question in one line first, then solve",
}

_END_WITH_ANSWER = (
    "Always end your reply with the final answer wrapped in <answer></answer> tags, "
    "and write nothing after </answer>."
)

_INSTRUCTIONS = {
    "original": "Work through it step by step.",
    "plan_and_execute": (
        "Before solving, write a detailed plan: the steps you will take and what each one "
        "should produce. Then follow the plan one step at a time, showing your work."
    ),
    "alternatively": (
        "Look for more than one route to the answer. Put each candidate on a new line that "
        'starts with "Alternatively,", check each one, then keep the one that holds up.'
    ),
    "rephrase": (
        'Open your reply with a single line that starts with "Restated question:" and keeps '
        "only the facts needed to solve it. Then solve it step by step."
    ),
}


def solve_prompt(variant: str, question: str, *, answer_format: str, example: str) -> Conversation:
    """The chat prompt for one question in one variant.

    ``answer_format`` says what goes inside the tags ("one arithmetic expression
    that uses each number once") and ``example`` shows one ("(25 - 5) * 4").
    """
    if variant not in _INSTRUCTIONS:
        raise UsageError(
            f"unknown prompt variant {variant!r}; variants: {', '.join(PROMPT_VARIANTS)}"
        )
    finish = (
        f"Finish with your final answer inside <answer></answer> tags: {answer_format}, "
        f"for example <answer>{example}</answer>."
    )
    # The question comes last, next to where the reply begins: models (small ones most of
    # all) copy its numbers and words more reliably from close by.
    user: Message = {
        "role": "user",
        "content": f"{_INSTRUCTIONS[variant]} {finish}\n\n{question}",
    }
    if variant == "original":
        return [user]
    return [{"role": "system", "content": _END_WITH_ANSWER}, user]


VERDICTS: tuple[str, str] = ("Correct", "Incorrect")
"""The two verdicts a reflection may end with, as they are written inside the tag."""

_REFLECTION_INSTRUCTIONS = (
    "Check this response. Do not solve the question again and do not correct the response: "
    "redo its working to test whether its final answer holds, say what you find, and end with "
    "your judgement of the final answer, either <verdict>Correct</verdict> or "
    "<verdict>Incorrect</verdict>."
)


def reflection_prompt(question: str, response: str) -> Conversation:
    """The chat prompt that asks a model to judge one response to a question.

    The reply is a short check that ends in a verdict tag (see
    :mod:`skillfactory.verdicts`); a reflection kept for a trace is one whose
    verdict agrees with the task's verifier.
    """
    return [
        {
            "role": "user",
            "content": (
                f"{_REFLECTION_INSTRUCTIONS}\n\nQuestion:\n{question}\n\n"
                f"Response:\n{response.strip()}"
            ),
        }
    ]
