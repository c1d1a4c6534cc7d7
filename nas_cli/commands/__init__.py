"""One module per subcommand: the only place that reads argv (and the only one, with `study/`, that
knows Hydra exists). Each `*_command(args) -> exit code` turns errors into one line and a code.

May import: everything below it (`report/`, `study/`, `deploy/`, `trial/`, the packages beside the
flow and the ground layer).
"""
