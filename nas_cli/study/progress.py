"""Terminal output: a live rich view on a TTY, plain log lines otherwise (CI), plus the log file."""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("nas")


class Reporter:
    """Shows trial progress; every line also goes to the run's log file through `logging`."""

    def __init__(self, n_trials: int, verbosity: int = 1, live: bool | None = None, every: float = 60.0) -> None:
        from rich.console import Console

        self.console = Console(stderr=False, highlight=False)
        self.n_trials = n_trials
        self.verbosity = verbosity
        self.live = self.console.is_terminal if live is None else live
        self.live = self.live and verbosity > 0
        self.done = 0
        self.best: str = "-"
        self._progress = None
        self._task = None
        self.every = float(every)  # plain text: a progress line inside a trial at most this often (seconds)
        self._durations: list[float] = []  # seconds of the trials this process finished
        self._running: dict[int, dict] = {}  # trial number -> {"start", "last_line"}

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, done: int = 0) -> None:
        self.done = done
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]search[/]"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.description}"), TimeElapsedColumn(), console=self.console, transient=False,
            )
            self._task = self._progress.add_task("", total=self.n_trials, completed=done)
            self._progress.start()

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    # -- events ----------------------------------------------------------------------------
    def epoch(self, number: int, epoch: int, epochs: int, record: dict) -> None:
        if self.verbosity > 1:  # chatty: one line per epoch (CI logs keep them; a TTY shows them above the bar)
            line = f"trial {number} epoch {epoch}/{epochs} " + " ".join(
                f"{k} {v:.4g}" for k, v in record.items() if k != "epoch" and isinstance(v, (int, float)))
            log.info(line)
            if self._progress is not None:
                self._progress.console.print(line)
            else:
                print(line, flush=True)
        if self._progress is not None:
            self._progress.update(
                self._task,
                description=f"trial {number} epoch {epoch}/{epochs} {_score_text(record)} · best {self.best}",
            )

    def batch(self, number: int, p: dict) -> None:
        """Inside an epoch (at most every half second): batches done, samples/s, the ETA of the trial
        and of the study from the throughput measured so far; the live bar shows it, plain text prints
        it at most every `every` seconds (a trial silent for minutes looks dead in a CI log)."""
        now = time.monotonic()
        run = self._running.setdefault(number, {"start": now - p["seconds"], "last_line": now - p["seconds"]})
        rate = p["batch"] / max(p["seconds"], 1e-9)  # batches per second this epoch
        epoch_total = p["batches"] / rate
        trial_left = (p["batches"] - p["batch"]) / rate + (p["epochs"] - p["epoch"]) * epoch_total
        per_trial = (sum(self._durations) / len(self._durations) if self._durations
                     else now - run["start"] + trial_left)
        study_left = trial_left + max(0, self.n_trials - self.done - 1) * per_trial
        text = (f"trial {number} epoch {p['epoch']}/{p['epochs']} batch {p['batch']}/{p['batches']} "
                f"{rate * p.get('batch_size', 1):.0f} samples/s, trial ETA {_eta(trial_left)}, study ETA {_eta(study_left)}")
        if p.get("estimate"):
            text += f" (estimated {_eta(p['estimate'])}/epoch, measured {_eta(epoch_total)})"
        if self._progress is not None:
            self._progress.update(self._task, description=f"{text} · best {self.best}")
        elif self.verbosity > 0 and now - run["last_line"] >= self.every:
            run["last_line"] = now
            log.info(text)
            print(text, flush=True)

    def trial_done(self, study, trial) -> None:
        self.best = _best_text(study)
        self._running.pop(trial.number, None)
        state = trial.state.name
        if trial.user_attrs.get("infeasible"):  # rejected by constraints before training: not a counted trial
            line = f"trial {trial.number} rejected before training: {trial.user_attrs['infeasible']}"
            log.info(line)
            if self.verbosity > 1:
                print(line, flush=True)
            return
        self.done += 1
        if state == "COMPLETE":
            detail = "values " + ", ".join(f"{v:.4g}" for v in trial.values)
        elif state == "PRUNED":
            detail = f"pruned at epoch {trial.user_attrs.get('pruned_at_epoch', trial.last_step)}"
        else:
            detail = trial.user_attrs.get("fail_reason", "failed")
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds() if trial.datetime_complete else 0
        self._durations.append(seconds)
        line = f"trial {trial.number} ({self.done}/{self.n_trials}) {state} {detail} ({seconds:.1f}s) best {self.best}"
        log.info(line)
        if self._progress is not None:
            self._progress.update(self._task, completed=self.done, description=f"best {self.best}")
            if state == "FAIL" and self.verbosity > 0:
                self._progress.console.print(f"[yellow]{line}[/]")
        elif self.verbosity > 0:
            print(line, flush=True)

    def info(self, message: str) -> None:
        log.info(message)
        if self.verbosity > 0:
            if self._progress is not None:
                self._progress.console.print(message)
            else:
                self.console.print(message, soft_wrap=True) if self.console.is_terminal else print(message, flush=True)

    def warn(self, message: str) -> None:
        log.warning(message)
        print(f"warning: {message}", file=sys.stderr, flush=True)

    def table(self, title: str, columns: list[str], rows: list[list]) -> None:
        """A rich table on a TTY; aligned plain text otherwise. Always shown unless verbosity < 0."""
        from rich.table import Table

        log.info("%s\n%s", title, "\n".join(" | ".join(map(str, r)) for r in [columns, *rows]))
        if self.verbosity < 0:
            return
        # Not a terminal (CI, a pipe): no box drawing, just aligned columns under the title.
        table = Table(title=title) if self.console.is_terminal else Table(title=title, box=None, title_justify="left")
        for col in columns:
            table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*[str(c) for c in row])
        self.console.print(table)


def _score_text(record: dict) -> str:
    """The epoch's validation score (the task's first validation metric other than the loss)."""
    key = next((k for k in record if k.startswith("val_") and k != "val_loss"), "val_loss")
    return f"{key} {record.get(key, float('nan')):.4f}"


def _eta(seconds: float) -> str:
    from nas_cli.trial.epoch_estimate import human_seconds

    return human_seconds(seconds)


def _best_text(study) -> str:
    try:
        if len(study.directions) == 1:
            return f"{study.best_value:.4f}"
        return f"{len(study.best_trials)} on Pareto front"
    except ValueError:
        return "-"
