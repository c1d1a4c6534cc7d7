"""`auto` choices resolved before anything runs, so config.yaml records what was used:
`dataset.task=auto` (tables: from the target column), `search_space=auto` (mlp for tables, textcnn
for text, cnn for images) and `objectives=null` (the task's default objective)."""

from __future__ import annotations

from pathlib import Path

SPACE_FOR_KIND = {"table": "mlp", "image": "cnn", "text": "textcnn", "audio": "audio_cnn", "ratings": "ncf"}


def resolve_auto(settings: dict) -> dict:
    """`settings` with every `auto`/null choice above replaced by the concrete one (in place)."""
    from nas_cli.data import dataset_kind, resolve_task
    from nas_cli.tasks import get_task

    ds = settings.get("dataset") or {}
    if ds.get("task") == "auto":
        ds["task"] = resolve_task(ds)
    space = settings.get("search_space") or {}
    if space.get("name") == "auto":
        settings["search_space"] = {**space_defaults(SPACE_FOR_KIND[dataset_kind(ds.get("name"))]),
                                    **{k: v for k, v in space.items() if k != "name"}}
    if not settings.get("objectives"):
        zero_cost = (settings.get("evaluator") or {}).get("name") == "zero_cost"  # untrained: no accuracy yet
        settings["objectives"] = ["zero_cost:max" if zero_cost else get_task(ds.get("task")).default_objective]
    return settings


def space_defaults(name: str) -> dict:
    """The options of configs/search_space/<name>.yaml (the space's documented defaults)."""
    import yaml

    import nas_cli.configs

    path = Path(nas_cli.configs.__file__).parent / "search_space" / f"{name}.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))
