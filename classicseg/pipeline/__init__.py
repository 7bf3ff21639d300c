"""The system: route each case to a method, run it, record why (no scoring here).

- :mod:`.router` -- the paper's modality router (which method, why, with which options)
- :mod:`.core` -- :class:`~.core.Pipeline` (router + methods + models) and the model provider
- :mod:`.task` -- one case in, one prediction and one log row out
- :mod:`.runner` -- a folder of cases: serially, on Dask, or one process per case
- :mod:`.coldstart` -- one fresh process per case, as the challenge timed it
- :mod:`.threads` -- one place that sets the thread counts of every library
"""
