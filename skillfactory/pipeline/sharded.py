"""Sampling in shards: finished work is saved as it goes, and a rerun does only the rest.

The prompts of a stage are cut into shards of ``shard_size`` prompts. Each shard
is sampled with a seed of its own, made from the run's seed, the stage and the
shard's number, and saved whole before the next begins. So a run that is
killed and rerun writes exactly the shards an uninterrupted run would have
written: none lost, none twice, and the same completions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from skillfactory.errors import SkillFactoryError, one_line
from skillfactory.jsonl import storable
from skillfactory.pipeline.stage import StageContext
from skillfactory.records import Conversation
from skillfactory.sampler import SamplingSettings

RowsOf = Callable[[int, list[list[str]]], list[dict[str, Any]]]
"""``(first prompt's index, completions per prompt)`` → the shard's rows."""


def shard_seed(seed: int, stage: str, shard: int) -> int:
    """A seed for one shard that does not depend on which shards ran before it."""
    digest = hashlib.sha256(f"{seed}/{stage}/{shard}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def sample_in_shards(
    context: StageContext,
    stage: str,
    prompts: Sequence[Conversation],
    n: int,
    settings: SamplingSettings,
    rows_of: RowsOf,
    *,
    what: str,
) -> list[dict[str, Any]]:
    """Sample ``n`` completions per prompt, shard by shard, and return every shard's rows.

    Shards already on disk under this stage's fingerprint are not sampled again.
    A sampler that fails, a full disk or Ctrl-C leaves every finished shard in
    place and ends with one line that says how to go on.
    """
    from skillfactory.progress import ProgressReport

    size = context.config["shard_size"]
    count = (len(prompts) + size - 1) // size
    shards = context.store.shards(stage)
    shards.start(context.fingerprint)
    done = shards.done() & set(range(count))
    todo = [index for index in range(count) if index not in done]
    if done:
        context.console.print(
            f"  resuming {stage}: {len(done)} of {count} shards were already finished"
        )
    if todo:
        sampler = context.sampler()
        total = len(prompts) * n
        finished = sum(min(size, len(prompts) - index * size) for index in done) * n
        with ProgressReport(context.console, indent="  ") as report:
            report.update(what, finished, total)
            for index in todo:
                start = index * size
                chunk = list(prompts[start : start + size])
                seeded = replace(settings, seed=shard_seed(settings.seed, stage, index))
                try:
                    completions = sampler.sample(chunk, n, seeded)
                except KeyboardInterrupt:
                    raise SkillFactoryError(
                        f"interrupted during {stage} shard {index}; {_kept(shards)} "
                        "rerun the same command to go on"
                    ) from None
                except SkillFactoryError:
                    raise
                except Exception as error:
                    raise SkillFactoryError(
                        f"the {context.config['sampler']} sampler failed on {stage} shard "
                        f"{index} ({one_line(error)}); {_kept(shards)} rerun the same command "
                        "to go on"
                    ) from error
                _check_shape(completions, len(chunk), n, context.config["sampler"])
                # Model text is untrusted: a lone surrogate is kept as its escape's text, so
                # that shards, datasets and tokenizers downstream get valid strings.
                completions = storable(completions)
                shards.write(index, rows_of(start, completions))
                finished += len(chunk) * n
                report.update(what, finished, total)
    return list(shards.read(count))


def _kept(shards: Any) -> str:
    return f"the {len(shards.done())} finished shards are kept;"


def _check_shape(completions: Any, prompts: int, n: int, sampler: str) -> None:
    """A sampler that returns the wrong number of texts is a bug in it; say so plainly."""
    if (
        not isinstance(completions, list)
        or len(completions) != prompts
        or any(not isinstance(texts, list) or len(texts) != n for texts in completions)
        or any(not isinstance(text, str) for texts in completions for text in texts)
    ):
        raise SkillFactoryError(
            f"the {sampler} sampler returned something other than {n} texts for each of "
            f"{prompts} prompts"
        )
