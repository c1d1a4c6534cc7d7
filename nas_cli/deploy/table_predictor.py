"""An exported table model on raw rows: CSV files or DataFrames, the saved transform, ONNX Runtime.

    predictor = nas_cli.deploy.load("runs/<run>")      # a table run
    frame = predictor.read("new.csv")                  # read as training read its file
    outputs = predictor.predict(frame)                 # probabilities [N, classes], or values [N]

Extra columns are ignored; a missing required column is a ConfigError naming it. No torch.
"""

from __future__ import annotations

from pathlib import Path

from nas_cli.deploy.table_preprocess import required_columns, table_feeds


class TablePredictor:
    kind = "table"

    def __init__(self, export_dir: Path, info: dict, session, threads: int):
        self.export_dir, self.info, self.session, self.threads = export_dir, info, session, threads
        self.task = info["task"]
        self.classes: list[str] = list(info.get("classes") or [])
        self.output_name = info["output"]["name"]
        self.columns = required_columns(info)

    def read(self, path, **overrides):
        """A file's rows as the training file was read (delimiter, header, names, missing markers)."""
        from nas_cli.data.table_read import read_table

        options = {**(self.info.get("read") or {}), **overrides}
        options = {k: options[k] for k in ("delimiter", "header", "columns", "skipinitialspace", "na_values",
                                           "encoding") if k in options}
        return read_table(path, key=str(path), **options)

    def outputs(self, frame, where: str = "rows"):
        """The model's raw outputs (logits, or values in the target's units) for a DataFrame."""
        import numpy as np

        feeds = table_feeds(frame, self.info, where)
        out = self.session.run([self.output_name], feeds)[0]
        return np.asarray(out)

    def predict(self, inputs, where: str | None = None):
        """Probabilities [N, classes] (classification) or values [N] (regression) for a DataFrame or a file."""
        from nas_cli.tasks.metrics import softmax

        if isinstance(inputs, (str, Path)):
            where, inputs = where or str(inputs), self.read(inputs)
        out = self.outputs(inputs, where or "rows")
        if self.task == "classification":
            return softmax(out).astype("float32")
        return out.reshape(len(out), -1)[:, 0]

    def close(self) -> None:
        pass


def prediction_frame(frame, outputs, predictor: TablePredictor):
    """The input rows with their prediction (and, for a classifier, its probability and every class's)."""
    from nas_cli.tasks.metrics import top_class

    out = frame.copy()
    if predictor.task == "classification":
        best = top_class(outputs)
        out["prediction"] = [predictor.classes[i] for i in best]
        out["probability"] = outputs[range(len(best)), best]
        for k, name in enumerate(predictor.classes):
            out[f"p_{name}"] = outputs[:, k]
    else:
        out["prediction"] = outputs
    return out
