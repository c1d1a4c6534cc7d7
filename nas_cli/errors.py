"""Errors a user can act on; each carries the exit code the CLI returns for it."""

from __future__ import annotations


class NasError(Exception):
    """A failure with a message meant for the user (printed without a traceback)."""

    exit_code = 1


class ConfigError(NasError):
    """Bad input: a config key, an override or a file the user pointed at."""

    exit_code = 2


class GateFailed(NasError):
    """The run finished but did not meet a `gate.*` threshold."""

    exit_code = 3


class TrialFailed(Exception):
    """A trial that cannot produce a result; the study records the reason and goes on."""


class TrialStopped(TrialFailed):
    """A trial stopped inside training (a Ctrl-C, `train.trial_timeout`): `where` says at which epoch
    and batch, recorded as the trial's `stopped_at` attribute."""

    def __init__(self, reason: str, where: dict) -> None:
        super().__init__(reason)
        self.where = where
