"""Conformance checks that every task and skill plugin, built-in or third-party, should pass.

Call them from a plugin's own test suite::

    from skillfactory.testing import check_skill, check_task

    def test_addition_conforms():
        check_task(Addition(), difficulty=2)

    def test_recap_conforms():
        check_skill(Recap())

Each check raises ``AssertionError`` with a message that names the broken promise.
:func:`make_question` builds the composer's input for a skill's own tests.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

from skillfactory.records import (
    Attempt,
    Conversation,
    Draft,
    InMemoryTexts,
    Problem,
    Question,
    Score,
)
from skillfactory.skill import ComposeSettings, Skill
from skillfactory.task import Task

HOSTILE_ANSWERS = (
    "",
    " ",
    "__import__('os').system('echo owned')",
    "9" * 5000,
    "(" * 500 + "1" + ")" * 500,
    "2 ** 2 ** 2 ** 2 ** 2",
    "<answer>",
    "\x00\ufffd",
)
"""Answers a scorer must judge without raising, hanging or executing anything."""


def check_task(task: Task, *, difficulty: int, seed: int = 0, count: int = 8) -> list[Problem]:
    """Check the promises of the :class:`~skillfactory.Task` contract at one difficulty.

    Generation is deterministic and gives distinct problems of the right task and
    difficulty; every prompt variant builds a chat prompt; every reference answer
    scores 1.0; and the scorer judges missing and hostile answers without raising.
    Returns the generated problems for further, task-specific checks.
    """
    problems = task.generate(count, difficulty=difficulty, seed=seed)
    label = f"task {task.name!r}"
    assert len(problems) == count, f"{label}: asked for {count} problems, got {len(problems)}"
    again = task.generate(count, difficulty=difficulty, seed=seed)
    assert again == problems, f"{label}: the same seed gave different problems"
    ids = [problem.id for problem in problems]
    assert len(set(ids)) == count, f"{label}: problem ids repeat: {ids}"
    assert task.variants, f"{label}: no prompt variants"
    for problem in problems:
        assert problem.task == task.name, (
            f"{label}: problem {problem.id} says task {problem.task!r}"
        )
        assert problem.difficulty == difficulty, (
            f"{label}: problem {problem.id} has a wrong difficulty"
        )
        for variant in task.variants:
            conversation = task.prompt(problem, variant)
            assert conversation and conversation[-1]["role"] == "user", (
                f"{label}: variant {variant!r} must end with a user message"
            )
        reference = task.score(problem, problem.answer)
        assert reference.correct, (
            f"{label}: the reference answer {problem.answer!r} of {problem.id} scored {reference}"
        )
        for answer in (None, *HOSTILE_ANSWERS):
            try:
                score = task.score(problem, answer)
            except Exception as error:
                raise AssertionError(
                    f"{label}: score() raised on {answer!r:.60}: {error!r}"
                ) from error
            assert isinstance(score, Score), f"{label}: score() returned {score!r}"
            assert not score.correct, f"{label}: {answer!r} was scored correct for {problem.id}"
    return problems


def make_question(
    samples: Sequence[tuple[str, str | None, bool, str | None]],
    *,
    question_id: str = "q",
    prompt: str = "What is 6 x 7? Put the number in <answer></answer>.",
) -> Question:
    """A :class:`~skillfactory.Question` as the composer hands it to skills.

    Each sample is an attempt's text, the answer extracted from it (None when it gave
    none), the verifier's judgement, and a reflection whose verdict agrees with that
    judgement (None when it has none). Attempt ``i`` has index ``i`` and, when its
    sample has a reflection, reflection ``i``; the texts live in an
    :class:`~skillfactory.InMemoryTexts`.
    """
    attempts = tuple(
        Attempt(index, correct, answer, "original", None if reflection is None else index)
        for index, (_, answer, correct, reflection) in enumerate(samples)
    )
    texts = InMemoryTexts(
        attempts=[sample[0] for sample in samples],
        reflections=[sample[3] or "" for sample in samples],
    )
    conversation: Conversation = [{"role": "user", "content": prompt}]
    return Question(question_id, conversation, attempts, texts)


RIGHT = "<verdict>Correct</verdict>"
WRONG = "<verdict>Incorrect</verdict>"

SAMPLE_QUESTIONS: tuple[Question, ...] = (
    make_question(
        [
            ("6 x 7 = 44", "44", False, f"6 x 7 is 42, not 44. {WRONG}"),
            ("7 + 7 + 7 + 7 + 7 + 7 = 42", "42", True, f"Six sevens make 42. {RIGHT}"),
            ("6 x 7 = 36", "36", False, f"36 is 6 x 6. {WRONG}"),
            ("7 x 6 = 42", "42", True, f"7 x 6 = 42. {RIGHT}"),
            ("6 x 7 = 48", "48", False, f"48 is 6 x 8. {WRONG}"),
            ("42", "42", True, f"Matches 6 x 7. {RIGHT}"),
            ("I am not sure.", None, False, None),
        ],
        question_id="mixed",
    ),
    make_question(
        [("42", "42", True, f"{RIGHT}"), ("6 x 7 = 42", "42", True, f"Yes. {RIGHT}")],
        question_id="all-right",
    ),
    make_question(
        [("6 x 7 = 40", "40", False, f"No. {WRONG}"), ("43", "43", False, f"No. {WRONG}")],
        question_id="all-wrong",
    ),
    make_question([("42", "42", True, RIGHT)], question_id="one-right"),
    make_question([("42", "42", True, None), ("41", "41", False, None)], question_id="unjudged"),
    make_question([], question_id="no-attempts"),
)
"""Questions of every shape a run meets: mixed, only right, only wrong, a single attempt,
attempts without reflections, none at all. :func:`check_skill` composes over all of them."""


def check_skill(
    skill: Skill,
    *,
    with_skills: Sequence[Skill] | None = None,
    questions: Sequence[Question] = SAMPLE_QUESTIONS,
    seed: int = 0,
) -> list[str]:
    """Check the promises of the :class:`~skillfactory.Skill` contract.

    The skill is composed with the skills it ``requires`` (taken from ``with_skills``,
    or from the installed plugins) over ``questions`` under every compose setting: the
    defaults, each ``length`` up to ``max_attempts``, one attempt at most, the random
    order and the no-reflections ablations. Its class attributes have the documented
    types; ``apply`` returns a draft or None and never raises; the same seed gives the
    same draft, whatever the global ``random`` state; a skill that chooses the attempts
    makes exactly the ``length`` asked for or gives up; a skill that does not declare
    ``chooses_attempts`` keeps attempts an earlier skill chose; and at least one
    question gives a trace under the defaults. Returns the rendered traces of that
    default composition, for further, skill-specific checks.
    """
    from skillfactory.composer import check_skill_set, compose
    from skillfactory.registry import NAME_PATTERN

    label = f"skill {getattr(skill, 'name', skill)!r}"
    _check_skill_attributes(skill, label, NAME_PATTERN.fullmatch)
    partners = _partners(skill, with_skills, label)
    ordered = check_skill_set([skill, *partners])
    position = ordered.index(skill)
    all_settings = [
        ComposeSettings(),
        ComposeSettings(max_attempts=1),
        ComposeSettings(order="random"),
        ComposeSettings(reflections=False),
        *(ComposeSettings(length=n) for n in range(1, ComposeSettings().max_attempts + 1)),
    ]
    for settings in all_settings:
        for question in questions:
            for draw in range(3):
                where = f"{label} on question {question.id!r} with {settings}"
                offered = _offered(ordered, question, settings)
                before = _draft_before(ordered[:position], offered, settings, seed, draw)
                if before is None:
                    continue
                draft = _apply(skill, before, offered, settings, seed, draw, where)
                if draft is None:
                    continue
                if skill.chooses_attempts and settings.length is not None:
                    assert len(draft.attempts) == settings.length, (
                        f"{where}: chose {len(draft.attempts)} attempts for length "
                        f"{settings.length}; return None for a length it cannot make"
                    )
                kept = {attempt.index for attempt in before.attempts}
                if kept and not skill.chooses_attempts:
                    shown = {attempt.index for attempt in draft.attempts}
                    assert kept & shown, (
                        f"{where}: replaced the attempts an earlier skill chose; "
                        "declare chooses_attempts = True if that is what it is for"
                    )
                known = {attempt.index for attempt in question.attempts}
                assert {attempt.index for attempt in draft.attempts} <= known, (
                    f"{where}: shows an attempt that is not among the question's"
                )
    traces, _ = compose(questions, ordered, seed=seed, traces_per_question=2)
    assert traces, f"{label}: no sample question gave a trace under the default settings"
    rendered = [trace.messages[-1]["content"] for trace in traces]
    for text in rendered:
        assert text.startswith("<think>") and "</think>" in text and "<answer>" in text, (
            f"{label}: a trace lacks the <think> … </think> … <answer> frame: {text[:80]!r}"
        )
    return rendered


def _check_skill_attributes(skill: Skill, label: str, valid_name: object) -> None:
    assert isinstance(skill, Skill), f"{label}: not an instance of skillfactory.Skill"
    name = getattr(skill, "name", None)
    assert isinstance(name, str) and callable(valid_name) and valid_name(name), (
        f"{label}: a name must be lower-case letters, digits, '_', '.', ':' or '-'"
    )
    description = getattr(skill, "description", None)
    assert isinstance(description, str) and description.strip() and "\n" not in description, (
        f"{label}: the description must be one non-empty line"
    )
    assert isinstance(skill.stage, int) and not isinstance(skill.stage, bool), (
        f"{label}: stage must be an int, got {skill.stage!r}"
    )
    assert not isinstance(skill.requires, str) and all(
        isinstance(required, str) for required in skill.requires
    ), f"{label}: requires must be a sequence of skill names, got {skill.requires!r}"
    assert skill.name not in skill.requires, f"{label}: requires itself"
    for purpose, bank in skill.phrases.items():
        assert isinstance(purpose, str), f"{label}: phrase purpose {purpose!r} is not a str"
        assert not isinstance(bank, str) and bank, (
            f"{label}: phrases[{purpose!r}] must be a non-empty sequence of phrases"
        )
        for phrase in bank:
            assert isinstance(phrase, str) and phrase.strip(), (
                f"{label}: phrases[{purpose!r}] holds an empty or non-str phrase {phrase!r}"
            )


def _partners(skill: Skill, with_skills: Sequence[Skill] | None, label: str) -> list[Skill]:
    """The skills ``skill`` requires: those given, or the installed ones of those names."""
    if with_skills is not None:
        return [other for other in with_skills if other.name != skill.name]
    if not skill.requires:
        return []
    from skillfactory.registry import get_registry

    registry = get_registry()
    try:
        return [registry.get("skill", name).create() for name in skill.requires]
    except Exception as error:
        raise AssertionError(f"{label}: a skill it requires is not installed: {error}") from None


def _draft_before(
    earlier: Sequence[Skill],
    question: Question,
    settings: ComposeSettings,
    seed: int,
    draw: int,
) -> Draft | None:
    """The draft the skills before this one hand it, as the composer would."""
    draft: Draft | None = Draft()
    rng = random.Random(f"check-skill/before/{seed}/{question.id}/{draw}")
    for other in earlier:
        assert draft is not None
        draft = other.apply(draft, question, settings, rng)
        if draft is None:
            return None
    return draft


def _offered(skills: Sequence[Skill], question: Question, settings: ComposeSettings) -> Question:
    """The question as the composer offers it: only reflected attempts when a skill needs them."""
    if settings.reflections and any(skill.needs_reflections for skill in skills):
        kept = tuple(attempt for attempt in question.attempts if attempt.reflection is not None)
        return replace(question, attempts=kept)
    return question


def _apply(
    skill: Skill,
    before: Draft,
    question: Question,
    settings: ComposeSettings,
    seed: int,
    draw: int,
    where: str,
) -> Draft | None:
    """``apply`` twice from the same seed under different global random states."""
    results = []
    state = random.getstate()
    try:
        for global_seed in ("a", "b"):
            random.seed(f"{where}/{draw}/{global_seed}")
            rng = random.Random(f"check-skill/{seed}/{question.id}/{draw}")
            try:
                result = skill.apply(before, question, settings, rng)
            except Exception as error:
                raise AssertionError(f"{where}: apply() raised {error!r}") from error
            assert result is None or isinstance(result, Draft), (
                f"{where}: apply() returned {result!r:.80}, not a Draft or None"
            )
            results.append(result)
    finally:
        random.setstate(state)
    assert results[0] == results[1], (
        f"{where}: the same rng gave different drafts; draw randomness only from rng"
    )
    return results[0]
