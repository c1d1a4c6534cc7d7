"""`study.enqueue=FILE|RUN_DIR`: parameter sets evaluated first, in order, before the sampler's own.

The source is a JSON or YAML file holding a list of parameter dicts (the names and values of a
trial's `params`, as Optuna stores them), or a previous run directory, whose COMPLETE trials are
taken best first. Every set is checked against the search space before anything is enqueued: each
name must be one the space (and the searched `train.*` hyperparameters) suggests for that set, each
value must lie in its distribution. Sets already in the study (any state) are skipped, so a resumed
run does not enqueue them twice; sets beyond the trials this call will run are left for a later
`nas resume ... study.n_trials=<more>`, so no WAITING trial is left behind in the storage.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nas_cli.errors import ConfigError

KEY = "study.enqueue"
ALLOWED = ("a JSON or YAML file holding a list of parameter dicts (e.g. [{\"n_layers\": 2, \"filters_0\": 32, ...}]) "
           "or a previous run directory (its COMPLETE trials, best first)")


def enqueue_from_config(settings: dict, study, sample: Callable[[Any], Any], n_run: int, reporter=None) -> dict | None:
    """Read `study.enqueue`, check every set against `sample(trial)`, enqueue up to `n_run` new ones.

    Returns what was done (for summary.json), or None when `study.enqueue` is null.
    """
    source = settings.get("study", {}).get("enqueue")
    if source is None or (isinstance(source, str) and not source.strip()):
        return None
    if not isinstance(source, str):
        raise ConfigError(f"{KEY}={source!r} must be a path: {ALLOWED}")
    path = _recorded_source(study, Path(source).expanduser())
    sets = load_param_sets(path)
    sets = check_param_sets(sets, sample, path)
    out = enqueue_param_sets(study, sets, n_run, str(path.resolve()))
    if reporter is not None:
        msg = f"{KEY}: {out['enqueued']} of {out['sets']} parameter set(s) from {path} enqueued"
        if out["already_in_study"]:
            msg += f", {out['already_in_study']} already in the study"
        if out["deferred"]:
            msg += (f", {out['deferred']} left for later (more sets than trials to run: raise study.n_trials "
                    "and resume to evaluate them)")
        reporter.info(msg)
    return out


def _recorded_source(study, path: Path) -> Path:
    """A relative path that is not found from here (`nas resume` from another directory): the absolute
    path this study's earlier enqueued trials recorded, when exactly one of them ends with it."""
    try:
        if path.is_absolute() or path.exists():
            return path
    except (OSError, ValueError):
        return path
    recorded = {t.user_attrs.get("enqueued_from") for t in study.get_trials(deepcopy=False)} - {None}
    found = [Path(r) for r in recorded if Path(r).parts[-len(path.parts):] == path.parts]
    return found[0] if len(found) == 1 else path


def load_param_sets(path: Path) -> list[dict]:
    """The list of parameter dicts in a JSON/YAML file, or the COMPLETE trials of a run directory."""
    try:
        found = path.exists()
    except (OSError, ValueError):  # a name too long, a NUL byte
        found = False
    if not found:
        raise ConfigError(f"{KEY}={path}: no such file or run directory; expected {ALLOWED}")
    sets = params_of_run(path) if path.is_dir() else _read_file(path)
    if not isinstance(sets, list) or not all(isinstance(s, dict) for s in sets):
        raise ConfigError(f"{KEY}={path}: expected a list of parameter dicts, got {_kind(sets)}; allowed: {ALLOWED}")
    if not sets:
        raise ConfigError(f"{KEY}={path}: holds no parameter set; expected {ALLOWED}")
    for i, params in enumerate(sets):
        for name, value in params.items():
            if not isinstance(name, str) or not (value is None or isinstance(value, (bool, int, float, str))):
                raise ConfigError(f"{KEY}={path}: set {i}: {name!r}={value!r} is not a parameter name with a "
                                  "number, string or boolean value")
    return sets


def _read_file(path: Path):
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))  # YAML is a superset of JSON
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{KEY}={path}: cannot be read as JSON or YAML ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}); expected {ALLOWED}") from None


def _kind(value) -> str:
    if isinstance(value, list):
        bad = next(v for v in value if not isinstance(v, dict))
        return f"a list with a {type(bad).__name__} in it ({bad!r})"
    return "nothing (empty file)" if value is None else f"a {type(value).__name__}"


def params_of_run(run_dir: Path) -> list[dict]:
    """Params of a run's COMPLETE trials, best first (multi-objective: the Pareto set first)."""
    import optuna
    from optuna.trial import TrialState

    from nas_cli.rundir import load_run
    from nas_cli.study.storage import open_storage, resolve_storage, storage_of

    try:
        run_dir, settings = load_run(str(run_dir))
    except ConfigError as exc:
        raise ConfigError(f"{KEY}: {exc}; expected {ALLOWED}") from None
    spec = resolve_storage(storage_of(run_dir, settings), run_dir)
    if "://" not in spec and not Path(spec).is_file():
        raise ConfigError(f"{KEY}={run_dir}: the run's study storage {spec} does not exist")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        study = optuna.load_study(study_name=str(settings["study"]["name"]), storage=open_storage(spec))
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{KEY}={run_dir}: its study cannot be read from {spec} ({type(exc).__name__}: {exc})") from None
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    front = {t.number for t in study.best_trials} if len(study.directions) > 1 and done else set()
    done.sort(key=lambda t: (t.number not in front, sign * t.values[0], t.number))
    if not done:
        raise ConfigError(f"{KEY}={run_dir}: the run has no COMPLETE trial to take parameters from")
    return [dict(t.params) for t in done]


def check_param_sets(sets: list[dict], sample: Callable[[Any], Any], path: Path) -> list[dict]:
    """Run the space's own sampling on each set (in memory, nothing trained); return the sets with
    values in Optuna's stored types (so `skip_if_exists` recognises them on resume)."""
    import warnings

    import optuna

    probe = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    checked = []
    for i, params in enumerate(sets):
        probe.enqueue_trial(params)
        trial = probe.ask()
        watched = _Watched(trial)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # an out-of-range value is reported below, as an error
                sample(watched)
        except Exception as exc:  # a value the space cannot use (e.g. a choice the space does not offer)
            name = watched.last
            raise ConfigError(f"{KEY}={path}: set {i}: {name}={params.get(name)!r} cannot be used by this search "
                              f"space ({exc})") from None
        dists = trial.distributions
        unknown = sorted(set(params) - set(dists))
        if unknown:
            raise ConfigError(f"{KEY}={path}: set {i}: unknown parameter(s) {unknown} for this search space and "
                              f"train settings; allowed names for this set: {sorted(dists)}")
        normal = {}
        for name, value in params.items():
            dist = dists[name]
            try:
                internal = dist.to_internal_repr(value)
                ok = dist._contains(internal)
            except (ValueError, TypeError):
                ok = False
            if not ok or isinstance(value, bool) != _is_bool_choice(dist, value):
                raise ConfigError(f"{KEY}={path}: set {i}: {name}={value!r} is outside its distribution; "
                                  f"allowed: {_describe(dist)}")
            normal[name] = dist.to_external_repr(internal)
        checked.append(normal)
    return checked


class _Watched:
    """A trial that remembers the name of the last parameter suggested (to name a value the space rejects)."""

    def __init__(self, trial) -> None:
        self._trial, self.last = trial, None

    def __getattr__(self, attr):
        value = getattr(self._trial, attr)
        if not attr.startswith("suggest_"):
            return value

        def suggest(name, *args, **kwargs):
            self.last = name
            return value(name, *args, **kwargs)

        return suggest


def _is_bool_choice(dist, value) -> bool:
    """True/False only where the choices are booleans (Python counts True as 1)."""
    import optuna

    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return isinstance(value, bool) and any(isinstance(c, bool) and c == value for c in dist.choices)
    return False


def _describe(dist) -> str:
    import optuna

    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return f"one of {list(dist.choices)}"
    kind = "integer" if isinstance(dist, optuna.distributions.IntDistribution) else "number"
    step = f", step {dist.step}" if getattr(dist, "step", None) not in (None, 1) else ""
    return f"{kind} in [{dist.low}, {dist.high}]{' (log scale)' if dist.log else ''}{step}"


def sample_trial_params(ctx) -> Callable[[Any], Any]:
    """What a training trial suggests before it trains: the architecture, then the searched hyperparameters."""
    from nas_cli.trial.objective import sample_hparams

    return lambda trial: (ctx.space.sample(trial), sample_hparams(trial, ctx.train, ctx.task.losses if ctx.task else (),
                                                                  getattr(ctx.task, "negatives", ())))


def enqueue_param_sets(study, sets: list[dict], n_run: int, source: str, attrs: list[dict] | None = None) -> dict:
    """Enqueue new sets in order until the trials this call runs are covered; skip those already present.
    `attrs[i]`: more user attributes for set i (prescreen: its proxy values)."""
    from optuna.trial import TrialState

    waiting = len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
    room = max(0, n_run - waiting)  # WAITING trials (earlier enqueues, retries) run first anyway
    out = {"source": source, "sets": len(sets), "enqueued": 0, "already_in_study": 0, "deferred": 0}
    for i, params in enumerate(sets):
        if out["enqueued"] >= room:
            present = [t.system_attrs.get("fixed_params", t.params) for t in study.get_trials(deepcopy=False)]
            out["deferred"] = sum(p not in present for p in sets[i:])
            break
        before = len(study.get_trials(deepcopy=False))
        extra = attrs[i] if attrs else {}
        study.enqueue_trial(params, user_attrs={"enqueued_from": source, "enqueue_index": i, **extra},
                            skip_if_exists=True)
        if len(study.get_trials(deepcopy=False)) > before:
            out["enqueued"] += 1
        else:
            out["already_in_study"] += 1
    return out
