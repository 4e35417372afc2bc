"""CI: a default run's LLaMA-Factory export, read and trained by LLaMA-Factory itself.

Run in a virtual environment that has SkillFactory and the LLaMA-Factory release the
exporter writes for (docs/exports.md, "Engine versions"). It makes a small run on the
shipped default model, exports its traces, and then, with LLaMA-Factory's own code:

1. parses the exported YAML into its argument classes (an unknown key fails there);
2. loads the dataset with its loader and template, and checks every row against the text
   SkillFactory's sampling shows the model: the same token ids as the model's own chat
   template, and loss on exactly the tokens that template marks as the assistant's;
3. trains two steps from the exported YAML with ``llamafactory-cli train`` on the CPU, with
   every FutureWarning of the run (a deprecated key, for one) turned into an error, and
   checks that a model was saved.

Any failure ends the script with a message and a non-zero exit.

It passed (2026-12-08) with llamafactory 0.9.5, transformers 5.6.0, torch 2.14.1,
torchaudio 2.11.1 and torchvision 0.29.1: the command under ``<!-- ci: llamafactory -->`` in
docs/exports.md, which CI runs. LLaMA-Factory's data module imports torchaudio whatever the
data, and the only torchaudio on the package index (2.11.1) loads beside torch's CUDA builds,
not beside the CPU build 2.13.0, so this environment takes torch 2.14.1 with its CUDA
libraries; it runs on the CPU.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from engine_run import default_run, run

IGNORE = -100


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="lf-check-"))
    run_dir, export = work / "run", work / "sft"
    model = default_run(run_dir, questions=12, until="traces")
    run(
        [
            "skillfactory",
            "export",
            "llamafactory",
            str(run_dir),
            "--output",
            str(export),
            "--model",
            model,
        ]
    )
    config = export / "sft_skillfactory.yaml"
    rows = _check_dataset(config, work / "saves", model)
    print(
        f"llamafactory: {rows} exported rows load, token for token as the model's template, "
        "loss on its replies"
    )
    _train_two_steps(config, work / "saves")
    print("llamafactory: two training steps from the exported YAML, model saved")


def _check_dataset(config: Path, saves: Path, model: str) -> int:
    import yaml
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer
    from transformers import AutoTokenizer

    from skillfactory.plugins.llamafactory_export import ROLE_TAGS

    roles = {tag: role for role, tag in ROLE_TAGS.items()}
    args = yaml.safe_load(config.read_text(encoding="utf-8"))
    args.update(output_dir=str(saves), overwrite_cache=True, preprocessing_num_workers=1)
    model_args, data_args, training_args, _, _ = get_train_args(args)
    tokenizer_module = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
    module = get_dataset(
        template, model_args, data_args, training_args, stage="sft", **tokenizer_module
    )
    loaded = module["train_dataset"]

    exported = json.loads((config.parent / f"{args['dataset']}.json").read_text(encoding="utf-8"))
    ours = AutoTokenizer.from_pretrained(model)
    newline = ours.encode("\n", add_special_tokens=False)
    if len(loaded) != len(exported) or not exported:
        sys.exit(f"llamafactory loaded {len(loaded)} rows of {len(exported)} exported")
    for index, (row, record) in enumerate(zip(loaded, exported, strict=True)):
        messages = [
            {"role": roles[turn["from"]], "content": turn["value"]}
            for turn in record["conversations"]
        ]
        if "system" in record:
            messages.insert(0, {"role": "system", "content": record["system"]})
        rendered = ours.apply_chat_template(
            messages, return_dict=True, return_assistant_tokens_mask=True
        )
        ids, mask = rendered["input_ids"], rendered["assistant_masks"]
        expected_labels = [
            token if marked else IGNORE for token, marked in zip(ids, mask, strict=True)
        ]
        got_ids, got_labels = list(row["input_ids"]), list(row["labels"])
        if got_ids != ids:
            sys.exit(
                f"row {index}: LLaMA-Factory's tokens differ from the model's own template:\n"
                f"{ours.decode(got_ids)!r}\n!=\n{ours.decode(ids)!r}"
            )
        # LLaMA-Factory's ChatML also trains the newline after the last end-of-turn token,
        # which our template writes but never trains; generation stops before it.
        if ids[-1:] == newline and got_labels[-1:] == newline:
            expected_labels[-1] = newline[0]
        if got_labels != expected_labels:
            sys.exit(f"row {index}: the loss is not on exactly the assistant's tokens")
    return len(loaded)


def _train_two_steps(config: Path, saves: Path) -> None:
    env = {
        **os.environ,
        "PYTHONWARNINGS": "error::FutureWarning",
        "CUDA_VISIBLE_DEVICES": "",
    }
    run(
        [
            "llamafactory-cli",
            "train",
            str(config),
            f"output_dir={saves}",
            "max_steps=2",
            "preprocessing_num_workers=1",
            "logging_steps=1",
        ],
        env=env,
    )
    if not (saves / "model.safetensors").is_file():
        sys.exit(
            f"llamafactory-cli train saved no model in {saves}: "
            f"{sorted(p.name for p in saves.iterdir())}"
        )


if __name__ == "__main__":
    main()
