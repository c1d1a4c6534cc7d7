"""Search strategies Optuna lacks, each an `optuna.samplers.BaseSampler` in its own module.

- `evolution.RegularizedEvolutionSampler`: aging evolution (Real et al., 2019).
- `rl.ReinforceSampler`: a REINFORCE controller (Zoph & Le, 2017).
- `local.LocalSearchSampler`: model-guided local search with duplicate avoidance.
- `thompson.ThompsonSampler`: Thompson sampling over a Bayesian linear surrogate (`surrogate.py`).

All of them derive their state from the study's trials (so several processes can share one
storage) and draw their randomness from `(seed, trial.number)` (so a seed fixes the sequence).

May import: `spaces/` and the ground layer (and Optuna, NumPy).
"""
