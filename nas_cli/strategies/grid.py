"""Grid search over a search space's discrete decisions (Optuna's GridSampler needs the grid up front)."""

from __future__ import annotations

from typing import Any

from optuna.samplers import GridSampler, RandomSampler

from nas_cli.errors import ConfigError


class SpaceGridSampler(GridSampler):
    """GridSampler over distinct architectures, whose parameters outside the grid (e.g. searched
    training hyperparameters) are random. In a cell space (nb201) many grid points are the same
    network (an op on an edge no input-to-output path uses changes nothing: `surrogate.cell_key`);
    the grid keeps one of each, chosen by the seeded shuffle, so walking it evaluates every distinct
    architecture once (nb201: 9,445 of 15,625 points). Other spaces keep their whole grid."""

    def __init__(self, search_space: dict[str, list], seed: int | None = None) -> None:
        from nas_cli.strategies.cells import cell_key

        super().__init__(search_space, seed=seed)
        seen, distinct = set(), []
        for point in self._all_grids:  # already shuffled by the seed
            key = cell_key(dict(zip(self._param_names, point, strict=True)))
            if key not in seen:
                seen.add(key)
                distinct.append(point)
        self._all_grids, self._n_min_trials = distinct, len(distinct)
        self._fallback = RandomSampler(seed=seed)

    def sample_independent(self, study, trial, param_name, param_distribution):
        if param_name not in self._search_space:
            return self._fallback.sample_independent(study, trial, param_name, param_distribution)
        return super().sample_independent(study, trial, param_name, param_distribution)


def discover_grid(space, draws: int = 64, seed: int = 0) -> dict[str, list]:
    """The values of every parameter `space.sample` suggests, found by sampling it in a throwaway study."""
    import optuna
    from optuna.distributions import CategoricalDistribution, IntDistribution

    study = optuna.create_study(sampler=RandomSampler(seed=seed))
    grid: dict[str, list] = {}
    for _ in range(draws):
        trial = study.ask()
        space.sample(trial)
        for name, dist in trial.distributions.items():
            if isinstance(dist, CategoricalDistribution):
                values = list(dist.choices)
            elif isinstance(dist, IntDistribution) and not dist.log:
                values = list(range(dist.low, dist.high + 1, dist.step))
            elif getattr(dist, "step", None) is not None and not dist.log:
                n = int(round((dist.high - dist.low) / dist.step))
                values = [dist.low + i * dist.step for i in range(n + 1)]
            else:
                raise ConfigError(f"strategy=grid: parameter {name!r} is continuous ({dist}); a grid needs "
                                  "categorical or stepped parameters (use another strategy)")
            grid.setdefault(name, [])
            grid[name] += [v for v in values if v not in grid[name]]
        study.tell(trial, 0.0)
    return grid


def make_grid_sampler(search_space: dict[str, Any], seed: int | None = None) -> SpaceGridSampler:
    """Build the grid from the `search_space` config group (name + options) and return the sampler."""
    from nas_cli.spaces import build_space

    options = dict(search_space)
    space = build_space(options.pop("name"), spec=None, **options)
    return SpaceGridSampler(discover_grid(space), seed=seed)
