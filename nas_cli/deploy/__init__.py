"""After the search: select, fine-tune, export and verify, compress, robustness, gate; use the model.

May import: `trial/`, `tasks/`, `spaces/`, `data/` and the ground layer. Never `study/`, `report/`
or `commands/`: what it needs from them comes in as values (a study object, a reporter).
"""


def load(path):
    """A predictor for an export: `load(RUN_DIR or EXPORT_DIR).predict(paths or uint8 NHWC pixels)`
    returns class probabilities (ONNX Runtime with the saved preprocessing; no torch)."""
    from nas_cli.deploy.predictor import load as load_predictor

    return load_predictor(path)
