"""Every process that joins a study gets its own sampler stream, derived deterministically.

A sampler rebuilt with the run's seed replays its random start: a resumed run, a second `nas search`
on the same storage and study name, or another machine would propose exactly the parameters of the
first trials again. The seed of a joining process is therefore derived from the run's seed, the
worker index and the number of trials the study held when this process (or the parent that started
it) joined: a fresh study's first process keeps the plain seed (so a run is what it always was), and
the same sequence of commands still gives the same proposals. Samplers that walk one sequence whose
position Optuna keeps in the study (grid ids, QMC sample ids) keep the shared seed.

The join index is kept in the study itself (a user attribute `nas_join:<n>:...` per process that
opened it), so two processes that open the same study at the same moment, on one machine or two,
still get different indices (`claim_slot`).
"""

from __future__ import annotations

import os

ONE_SEQUENCE = ("nas_cli.strategies.grid.make_grid_sampler", "nas_cli.strategies.qmc.DistinctQMCSampler",
                "optuna.samplers.GridSampler", "optuna.samplers.QMCSampler")
JOINED_AT_ENV = "NAS_JOINED_AT"  # set by a parent for its workers: they all joined when it did
WORKER_PRIME, JOIN_PRIME = 7919, 104729


def stream_seed(sampler: dict, worker: int, joined_at: int) -> int | None:
    """The seed this process's sampler uses (None when the sampler has no integer seed)."""
    seed = sampler.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool):
        return None
    if sampler.get("_target_") in ONE_SEQUENCE:
        return seed
    return seed + WORKER_PRIME * int(worker) + JOIN_PRIME * int(joined_at)


def claim_join_index(study) -> int:
    """This process's join index in `study` (0 for the first process ever), recorded in the study;
    a worker started by a parent takes the parent's (`NAS_JOINED_AT`)."""
    inherited = os.environ.get(JOINED_AT_ENV)
    if inherited not in (None, ""):
        return int(inherited)
    return claim_slot(study, "nas_join")[0]


def claim_slot(study, prefix: str, only_first: bool = False) -> tuple[int, dict | None]:
    """Claim the first free index under user attributes `<prefix>:<n>:<id>`; (index, None) when won.

    A process writes a live claim, reads the claims back and keeps the index only when its claim is
    the only live one there; otherwise it withdraws it and tries again after a short random wait.
    Two processes can never both keep one index: the later writer always sees the earlier claim. With
    `only_first`, an index 0 someone else holds returns (0, that holder's record) (one finisher).
    """
    import random
    import socket
    import time
    import uuid

    me = {"id": uuid.uuid4().hex, "host": socket.gethostname(), "pid": os.getpid(), "live": True}
    for attempt in range(200):
        live = _claims(study, prefix)
        if only_first and live.get(0):
            return 0, live[0][0][1]
        index = 0 if only_first else next(i for i in range(len(live) + 1) if i not in live)
        key = f"{prefix}:{index}:{me['id']}:{attempt}"
        study.set_user_attr(key, me)
        if [k for k, _ in _claims(study, prefix).get(index, [])] == [key]:
            return index, None
        study.set_user_attr(key, {**me, "live": False})  # withdrawn: another claim is there too
        time.sleep(random.uniform(0.0, 0.05))
    raise RuntimeError(f"could not claim a {prefix} index in 200 attempts")


def _claims(study, prefix: str) -> dict[int, list[tuple[str, dict]]]:
    """index -> [(key, record)] of the live claims under `prefix`."""
    out: dict[int, list[tuple[str, dict]]] = {}
    for key, value in study.user_attrs.items():
        if key.startswith(prefix + ":") and isinstance(value, dict) and value.get("live", True):
            out.setdefault(int(key.split(":")[1]), []).append((key, value))
    return out
