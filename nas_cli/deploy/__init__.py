"""After the search: select, fine-tune, export and verify, compress, robustness, gate; use the model.

May import: `trial/`, `tasks/`, `spaces/`, `data/` and the ground layer. Never `study/`, `report/`
or `commands/`: what it needs from them comes in as values (a study object, a reporter).
"""
