"""Models: the project's own default base model, imported pretrained models, and ``--model``.

Nothing here imports torch or transformers at module level; the functions that
need them import them when called.
"""
