"""Evaluating models as the paper does: accuracy on harder and out-of-domain tasks, skill use.

``metrics`` turns scored responses into figures (accuracy with an interval,
attempts, reflections, verdict F1); ``evaluate`` samples held-out problems and
writes ``metrics.json``; ``report`` turns one or more evaluations into
``report.md`` and plots.
"""
