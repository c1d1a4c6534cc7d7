"""What a config from elsewhere may instantiate: a run directory copied from another machine or user
(`nas resume`, `nas export`) is data, and a `_target_` in its config.yaml is code Hydra would import
and call. Only targets from Optuna and nas itself (and the libraries nas is built on) are
instantiated unless the user passes `--trust-config`; the refusal names the key and the target."""

from __future__ import annotations

from nas_cli.errors import ConfigError

TRUSTED_PREFIXES = ("optuna.", "nas_cli.", "torch.", "torchvision.", "sklearn.")
FLAG = "--trust-config"


def untrusted_targets(settings, path: str = "") -> list[tuple[str, str]]:
    """(config key, target) of every `_target_` outside TRUSTED_PREFIXES, in order."""
    found = []
    if isinstance(settings, dict):
        target = settings.get("_target_")
        if isinstance(target, str) and not target.startswith(TRUSTED_PREFIXES):
            found.append((path or "<root>", target))
        for key, value in settings.items():
            found += untrusted_targets(value, f"{path}.{key}" if path else str(key))
    elif isinstance(settings, list):
        for i, value in enumerate(settings):
            found += untrusted_targets(value, f"{path}[{i}]")
    return found


def check_trusted(settings: dict, source: str, trusted: bool = False) -> None:
    """ConfigError for the first untrusted target of `settings` read from `source` (unless `trusted`)."""
    if trusted:
        return
    bad = untrusted_targets(settings)
    if bad:
        key, target = bad[0]
        raise ConfigError(f"{source}: {key}._target_={target!r} is not from optuna, nas_cli or the libraries nas "
                          f"uses; a config from elsewhere may run code: pass {FLAG} if you trust it")


def split_flag(args: list[str]) -> tuple[list[str], bool]:
    """(args without --trust-config, whether it was given)."""
    return [a for a in args if a != FLAG], FLAG in args
