"""Reading finished (or running) run directories: the HTML report, `nas ls` rows, `nas show`.

May import: `study/` (to open a run's storage), `deploy/`, `tasks/` and the ground layer; never
`commands/`.
"""
