"""What the lessons and galleries compute (no drawing here; :mod:`classicseg.viz` draws it).

- :mod:`.studies` -- small measurements behind the notebooks (slice-step sweeps, threshold
  studies, per-box tables, box perturbations)
- :mod:`.failures` -- failure analysis: rows ranked by the Dice gap, predicted-IoU flags,
  encoder-pass counts
"""
