"""The default model's card (README.md in its directory): how it was made, what it can do."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skillfactory.models.build import BuildReport


def model_card(report: BuildReport) -> str:
    """Markdown for a build: recipe, corpus, tokenizer, training, abilities, and how to redo it."""
    size, training, corpus = report.size, report.training, report.corpus
    seconds = ", ".join(f"{stage} {value:.0f} s" for stage, value in report.seconds.items())
    per_task = ", ".join(f"{task} {count}" for task, count in size["problems_per_task"].items())
    judges = sum(corpus["judge_correct"].values()) + sum(corpus["judge_incorrect"].values())
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-generation",
        "tags: [skillfactory, llama, from-scratch]",
        "---",
        "",
        f"# SkillFactory default model ({size['name']}, recipe {report.recipe}, "
        f"seed {report.seed})",
        "",
        "A small Llama-architecture causal language model that SkillFactory builds offline, "
        "from nothing, as a stand-in for a pretrained instruct model. It can attempt the "
        "built-in tasks (sometimes right, often wrong) and judge an answer when asked to "
        "reflect, but it has never seen the multi-attempt `<sample>`/`<reflect>` format: "
        "that is what SkillFactory teaches.",
        "",
        "Rebuild it with:",
        "",
        "```console",
        f"skillfactory model build --size {size['name']} --seed {report.seed}",
        "```",
        "",
        "## How it was made",
        "",
        f"- **Corpus**: {corpus['conversations']} conversations generated from the built-in "
        f"tasks ({per_task} problems), every prompt variant. "
        f"{sum(corpus['solve'].values())} solve conversations (task prompt, then one worked "
        f"attempt that is right) and {judges} judge conversations (the reflection prompt "
        f"over an attempt, right in {size['judge_right_share']:.0%} of them and wrong in the "
        "rest, as a base model's own attempts mostly are, then a check that ends in "
        "`<verdict>Correct</verdict>` or `<verdict>Incorrect</verdict>`); every attempt "
        "was scored by the task's verifier and kept only where the verdict agreed "
        f"({corpus['dropped']} left out). Problems used to measure the model are never in it. "
        f'{corpus.get("drills", 0)} arithmetic drill conversations ("Work out each line.", '
        "then steps of the kinds Countdown work uses). Task options the problems were drawn "
        f"with: {report.task_options or 'the defaults'}.",
        "- **Tokenizer**: byte-level BPE (the `tokenizers` library); numbers and lone "
        "letters are pieces of their own, other text may merge across words, and the trace "
        "and answer tags are single added tokens; "
        f"{report.tokenizer['vocab_size']} tokens, ChatML chat template with "
        "`{% generation %}` markers around assistant replies.",
        f"- **Model**: `LlamaForCausalLM`, hidden size {size['hidden_size']}, "
        f"{size['layers']} layers, {size['heads']} heads, tied embeddings, "
        f"{training['parameters']:,} parameters, trained from random initialisation.",
        f"- **Training**: {training['steps']} steps ({training['examples']} conversations, "
        f"{training['tokens']:,} tokens): {_drills_first(size)}the corpus "
        f"({size['epochs']} epoch) in batches of {size['batch_size']}; "
        f"AdamW at {size['learning_rate']} with warm-up and cosine decay, loss on assistant "
        f"tokens only; loss {training['loss_first']:.2f} at the start, "
        f"{training['loss_last_50']:.3f} over the last 50 steps. bfloat16 autocast: "
        f"{'yes' if training['settings']['bf16'] else 'no'}.",
        f"- **Machine**: {report.machine.get('cpus')} CPUs ({report.machine.get('processor')}), "
        f"torch {report.machine.get('torch')}, {report.machine.get('torch_threads')} threads; "
        f"{seconds}.",
        "",
        "## Abilities",
        "",
    ]
    if report.abilities is None:
        lines.append("Not measured in this build; run `skillfactory model measure --model DIR`.")
    else:
        lines += [
            "Measured on held-out problems (never in the corpus), the prompt variants in turn; "
            "re-run with `skillfactory model measure --model DIR`.",
            "",
            report.abilities["table"],
        ]
    lines.append("")
    return "\n".join(lines)


def _drills_first(size: dict[str, Any]) -> str:
    """The drills-only phase before the corpus, as the card's words (empty if none)."""
    count = size.get("drills_first", 0)
    if not count:
        return ""
    batch = size["drills_first_batch_size"]
    return f"first {count} drill conversations alone in batches of {batch}, then "
