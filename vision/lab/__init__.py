"""The evaluation engine: score a labelled set once, then decide, report and tune it instantly.

Modules, lowest first (each imports only those above it):

- :mod:`~vision.lab.metrics`: rates, ROC and AUC on arrays (pure numpy).
- :mod:`~vision.lab.data`: ``pairs.csv`` rows, labelled folders and uploaded zips.
- :mod:`~vision.lab.pool`: the worker pool and progress reports.
- :mod:`~vision.lab.scored`: :class:`ScoredSet`, every pair's evidence as arrays, decided by any rule.
- :mod:`~vision.lab.run`: :class:`TuningRun`, the expensive step (features, matches, the original rule).
- :mod:`~vision.lab.split`, :mod:`~vision.lab.report`, :mod:`~vision.lab.recommend`: hold-out, figures, thresholds.
- :mod:`~vision.lab.evaluate`: the ``evaluate`` command's report; :mod:`~vision.lab.plots`: the lab page's figures.
"""
