"""The evaluation engine: score a labelled set once, then decide, report and tune it instantly.

Modules, lowest first (each imports only those above it):

- :mod:`~vision.lab.metrics`: rates, ROC and AUC on arrays (pure numpy).
- :mod:`~vision.lab.data`: ``pairs.csv`` rows, labelled folders and uploaded zips.
- :mod:`~vision.lab.pool`: where the work runs (threads, local processes, Dask) and progress reports.
- :mod:`~vision.lab.cache`: features on disk by image content and settings.
- :mod:`~vision.lab.scored`: :class:`ScoredSet`, every pair's evidence as arrays, decided by any rule.
- :mod:`~vision.lab.run`: :class:`TuningRun`, the expensive step (features, matches, the original rule).
- :mod:`~vision.lab.split`, :mod:`~vision.lab.report`, :mod:`~vision.lab.recommend`: hold-out, figures, thresholds.
- :mod:`~vision.lab.evaluate`: the ``evaluate`` command's report.
- :mod:`~vision.lab.intervals`, :mod:`~vision.lab.compare`, :mod:`~vision.lab.eta`: Wilson intervals and
  sample-size warnings, the A/B comparison of two profiles, steady time estimates (arithmetic only).
- :mod:`~vision.lab.charts`: the lab page's interactive figures (Vega-Lite specs authored with Altair).
"""
