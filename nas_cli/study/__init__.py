"""The study runner: compose -> validate -> open the study (storage, recovery after a crash, enqueued
trials) -> run trials (in this process or in worker processes, Ctrl-C handled) -> hand the best
trials to `deploy/` -> summary.json.

May import: `deploy/`, `trial/`, `tasks/`, `spaces/`, `data/`, `strategies/` and the ground layer.
Never `report/` or `commands/`.
"""
