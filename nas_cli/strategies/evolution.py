"""Regularized (aging) evolution, Real et al. 2019, as an Optuna sampler for any search space."""

from __future__ import annotations

from nas_cli.strategies._common import PlannedSampler, completed, mutate_value, signed_value


class RegularizedEvolutionSampler(PlannedSampler):
    """Aging evolution: the population is the `population_size` most recent completed trials (so the
    oldest member leaves as a child joins); a parent is the best of `tournament_size` members drawn at
    random; the child changes one of the parent's decisions. Until the population is full, trials are
    random. Parameters the parent lacks (conditional ones that a mutation switches on) are random.

    Args:
        population_size: members alive at a time (P).
        tournament_size: members compared to pick a parent (S).
        seed: fixes the sequence of proposals.
    """

    def __init__(self, population_size: int = 10, tournament_size: int = 3, seed: int | None = None) -> None:
        super().__init__(seed)
        if population_size < 1 or not 1 <= tournament_size <= population_size:
            raise ValueError(f"need population_size >= 1 and 1 <= tournament_size <= population_size, "
                             f"got {population_size} and {tournament_size}")
        self.population_size = int(population_size)
        self.tournament_size = int(tournament_size)

    def propose(self, study, trial, rng) -> dict:
        done = completed(study)
        if len(done) < self.population_size:
            return {}  # initial population: every parameter random
        population = done[-self.population_size:]  # age = trial number: the oldest leave first
        picks = rng.choice(len(population), self.tournament_size, replace=False)
        parent = max((population[i] for i in picks), key=lambda t: (signed_value(study, t), -t.number))
        return mutate_one(parent, rng)


def mutate_one(parent, rng) -> dict:
    """The parent's params with one decision (that has alternatives) changed."""
    child = dict(parent.params)
    mutable = [n for n, d in parent.distributions.items() if _has_alternatives(d)]
    if mutable:
        name = mutable[rng.randint(len(mutable))]
        child[name] = mutate_value(parent.distributions[name], child[name], rng)
    return child


def _has_alternatives(dist) -> bool:
    choices = getattr(dist, "choices", None)
    return len(choices) > 1 if choices is not None else dist.high > dist.low
