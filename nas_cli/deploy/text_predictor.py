"""An exported text classifier on raw strings: the saved tokenizer, then ONNX Runtime. No torch.

    predictor = nas_cli.deploy.load("runs/<run>")     # a text run
    predictor.predict(["what a film", "dull"])        # probabilities [N, classes]
"""

from __future__ import annotations

from pathlib import Path

from nas_cli.errors import ConfigError


class TextPredictor:
    kind = "text"

    def __init__(self, export_dir: Path, info: dict, session, threads: int):
        from nas_cli.data.text_tokenizer import tokenizer_from_json

        self.export_dir, self.info, self.session, self.threads = export_dir, info, session, threads
        self.classes: list[str] = list(info["classes"])
        self.max_length = int(info["text"]["max_length"])
        self.tokenizer = tokenizer_from_json(info["text"]["tokenizer"])
        self.output_name = info["output"]["name"]

    def encode(self, texts) -> dict:
        from nas_cli.data.text_tokenizer import encode

        ids = encode(self.tokenizer, [str(t) for t in texts], self.max_length)
        return {"input_ids": ids, "attention_mask": (ids != 0).astype("int64")}

    def logits(self, texts, batch_size: int = 256):
        import numpy as np

        texts = list(texts)
        out = [self.session.run([self.output_name], self.encode(texts[i:i + batch_size]))[0]
               for i in range(0, len(texts), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)), dtype="float32")

    def predict(self, texts, batch_size: int = 256):
        """Probabilities [N, classes] for a list of strings."""
        from nas_cli.tasks.metrics import softmax

        if isinstance(texts, str):
            raise ConfigError("predict takes a list of texts, not one string (wrap it: [text])")
        return softmax(self.logits(texts, batch_size)).astype("float32")

    def read(self, path) -> list[str]:
        """Texts of a file: a CSV/TSV with the training text column(s), else one text per non-empty line."""
        path = Path(path)
        columns = self.info["text"].get("text_columns") or []
        if path.suffix.lower() in (".csv", ".tsv") and columns:
            from nas_cli.data.table_read import read_table

            frame = read_table(path, key=str(path), delimiter="tab" if path.suffix.lower() == ".tsv" else "auto",
                               quoting=self.info["text"].get("quoting", "minimal"),
                               encoding=self.info["text"].get("encoding") or "utf-8")
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ConfigError(f"{path}: no column {missing[0]!r} (the model reads {', '.join(columns)}; "
                                  f"the file has {', '.join(map(str, frame.columns))})")
            return frame[columns].fillna("").astype(str).agg(" ".join, axis=1).tolist()
        try:
            text = path.read_text(encoding=self.info["text"].get("encoding") or "utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not {exc.encoding} text at byte {exc.start}") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
        return [line.strip() for line in text.splitlines() if line.strip()]

    def close(self) -> None:
        pass
