"""The stages of ``skillfactory run``, in order, and the runner that skips or redoes them.

Each stage reads the datasets of the stages before it from the run directory and
writes its own. Later stages (training, evaluation) join the list in
:mod:`skillfactory.pipeline.stages` without changing the runner.
"""
