"""Test doubles for trials that fail, diverge, run out of memory, run slowly or get a Ctrl-C mid-epoch.

In the style of Optuna's `optuna/testing/objectives.py`, but as a registered search space, so the
real runner, trial, training loop and failure recording all run: only the network misbehaves.
`behaviours` is a list indexed by trial number (cycled), e.g. ["ok", "raise", "nan"].
"""

from __future__ import annotations

import os
import time

from nas_cli.spaces import SPACES, SearchSpace, register_space

BEHAVIOURS = ("ok", "raise", "nan", "inf", "cuda_oom", "cpu_oom", "memory_error", "slow", "signal_self", "slow_signal",
              "slow_validation")
VALIDATION_WAITS = {"done": 0}  # slow_validation: how many of its 30 waits of 0.1 s ran


class DoubleSpace(SearchSpace):
    """A tiny MLP whose forward pass does what `behaviours[trial.number]` says."""

    name = "double"

    def __init__(self, spec=None, behaviours=("ok",), **_options) -> None:
        super().__init__(spec)
        bad = set(behaviours) - set(BEHAVIOURS)
        if bad:
            raise ValueError(f"unknown behaviours {sorted(bad)}")
        self.behaviours = list(behaviours)

    def sample(self, trial) -> dict:
        behaviour = self.behaviours[trial.number % len(self.behaviours)]
        return {"behaviour": behaviour, "hidden": trial.suggest_int("hidden", 8, 64, log=True)}

    def build(self, arch: dict, spec):
        return make_net(arch["behaviour"], arch["hidden"], spec)

    def describe(self, arch: dict) -> str:
        return f"{arch['behaviour']} mlp{arch['hidden']}"


def make_net(behaviour: str, hidden: int, spec):
    import math

    from torch import nn

    class Wait(nn.Module):
        def forward(self, x):
            time.sleep(0.1)
            VALIDATION_WAITS["done"] += 1
            return x

    class DoubleNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(spec.input_shape), hidden), nn.ReLU(),
                                      nn.Linear(hidden, spec.num_classes))
            self.calls = 0
            self.waits = nn.ModuleList([Wait() for _ in range(30)] if behaviour == "slow_validation" else [])

        def forward(self, x):
            out = self.body(x)
            if behaviour == "slow_validation" and not self.training and self.calls:  # after training: validation
                import signal

                os.kill(os.getpid(), signal.SIGINT)  # a Ctrl-C as the validation pass starts
                for wait in self.waits:  # 3 s in 30 layers
                    out = wait(out)
            if not self.training:  # cost measurement and evaluation run the network as it is
                return out
            self.calls += 1
            if behaviour == "raise":
                raise ValueError("double: this architecture cannot be trained")
            if behaviour == "nan":
                return out * float("nan")
            if behaviour == "inf":
                return out * float("inf")
            if behaviour == "cuda_oom":
                raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB (test double)")
            if behaviour == "cpu_oom":
                raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate "
                                   "memory: you tried to allocate 85899345920 bytes (test double)")
            if behaviour == "memory_error":
                raise MemoryError("test double")
            if behaviour in ("slow", "slow_signal"):
                time.sleep(0.2)
            if behaviour == "slow_signal" and self.calls == 3:
                import signal

                os.kill(os.getpid(), signal.SIGINT)  # a Ctrl-C early in a long epoch
            if behaviour == "signal_self" and self.calls == 1:
                import signal

                os.kill(os.getpid(), signal.SIGINT)  # a Ctrl-C arriving in the middle of the first epoch
            return out

    return DoubleNet()


def register() -> None:
    if "double" not in SPACES:
        register_space("double", "tests.doubles:DoubleSpace")
