"""One trial: sample an arch dict, build it, measure its cost, check the constraints, train it
(`fit`, through the task), score it. Also the pruners that stop weak trials early.

May import: `tasks/`, `spaces/`, `data/` and the ground layer; never `deploy/`, `study/`, `report/`
or `commands/` (what it needs from them, such as the progress hook, comes in `TrialContext`).
"""
