"""What the lessons and galleries compute (no drawing here; :mod:`classicseg.viz` draws it).

- :mod:`.scores` -- run, time and score several methods on a case (:class:`~.scores.MethodScore`
  rows; what :class:`classicseg.widgets.InteractiveComparison` shows)
- :mod:`.studies` -- small measurements behind the notebooks (slice-step sweeps, threshold
  studies, per-box tables, box perturbations)
- :mod:`.failures` -- failure analysis: :class:`~.failures.GalleryRow` rows ranked by the DSC
  gap, predicted-IoU flags, encoder-pass counts
- :mod:`.robustness` -- every method on jittered / loosened / tightened / shifted boxes
  (:func:`~.robustness.box_robustness` -> :class:`~.robustness.RobustnessRow` rows, mean DSC
  per method and amount; :func:`classicseg.viz.robustness_figure` draws the curves)
"""
