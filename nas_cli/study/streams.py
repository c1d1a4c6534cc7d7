"""Every process that joins a study gets its own sampler stream, derived deterministically.

A sampler rebuilt with the run's seed replays its random start: a resumed run, a second `nas search`
on the same storage and study name, or another machine would propose exactly the parameters of the
first trials again. The seed of a joining process is therefore derived from the run's seed, the
worker index and the number of trials the study held when this process (or the parent that started
it) joined: a fresh study's first process keeps the plain seed (so a run is what it always was), and
the same sequence of commands still gives the same proposals. Samplers that walk one sequence whose
position Optuna keeps in the study (grid ids, QMC sample ids) keep the shared seed.

The join index is kept in the study itself (a user attribute `nas_join:<n>` per process that
opened it), so two processes that open the same study at the same moment, on one machine or two,
still get different indices: each claims the first free index, then checks that no other process
claimed it too (the later claim moves on).
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

    Each process writes its claim, reads the claims back, and keeps the index when its claim is the
    first of that index in key order; a later claim moves on. With `only_first`, losing index 0
    returns (0, the winner's record) instead of moving on (one finisher per study).
    """
    import socket
    import uuid

    me = {"id": uuid.uuid4().hex, "host": socket.gethostname(), "pid": os.getpid()}
    for _ in range(100):
        taken = _claims(study, prefix)
        index = 0 if only_first else next(i for i in range(len(taken) + 1) if i not in taken)
        study.set_user_attr(f"{prefix}:{index}:{me['id']}", me)
        rivals = sorted(_claims(study, prefix).get(index, []))
        if rivals[0].endswith(me["id"]):  # the first claim (by key order) keeps the index
            return index, None
        if only_first:
            return 0, study.user_attrs[rivals[0]]
    raise RuntimeError(f"could not claim a {prefix} index in 100 attempts")


def _claims(study, prefix: str) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for key in study.user_attrs:
        if key.startswith(prefix + ":"):
            out.setdefault(int(key.split(":")[1]), []).append(key)
    return out
