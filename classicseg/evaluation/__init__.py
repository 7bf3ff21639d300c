"""Scoring and reports: predictions against ground truth, the paper's tables.

- :mod:`.evaluate` -- DSC / NSD per case and per modality for a folder of predictions
- :mod:`.compare` -- baseline vs the paper's pipeline (and other methods) on a folder
- :mod:`.report` -- the tables (paper Tables 11 / 12), markdown and CSV they are written as
"""
