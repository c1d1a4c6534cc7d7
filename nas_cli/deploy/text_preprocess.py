"""export/preprocess.json for text: the tokenizer (also saved alone as export/tokenizer.json, the
Hugging Face `tokenizers` format), the sequence length, class names, the ONNX input/output names."""

from __future__ import annotations

from nas_cli.deploy.export_format import FORMAT, REEXPORT
from nas_cli.errors import ConfigError


def text_preprocess(pre: dict, signature) -> dict:
    """The preprocess.json dict of a text classifier: `pre` is `Data.preprocess` of the text loader."""
    columns = pre.get("text_column")
    info = {"format": FORMAT, "task": "classification",
            "input": {"kind": "text", "names": [t.name for t in signature.inputs]},
            "text": {"tokenizer": pre["tokenizer"], "max_length": int(pre["max_length"]),
                     "lowercase": bool(pre.get("lowercase", True)),
                     "text_columns": [columns] if isinstance(columns, str) else list(columns or []),
                     "encoding": (pre.get("read") or {}).get("encoding") or "utf-8",
                     "quoting": (pre.get("read") or {}).get("quoting") or "minimal"},
            "classes": [str(c) for c in pre["classes"]],
            "output": {"name": signature.outputs[0].name, "kind": "logits"}}
    check_text_preprocess(info, "preprocess")
    return info


def check_text_preprocess(info: dict, where: str) -> None:
    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"{where}: key {key!r} {why}; {REEXPORT}")

    text = info.get("text")
    if not isinstance(text, dict) or not isinstance(text.get("tokenizer"), str):
        raise bad("text.tokenizer", "is missing (a serialised Hugging Face tokenizer)")
    if not isinstance(text.get("max_length"), int) or text["max_length"] < 1:
        raise bad("text.max_length", f"must be a positive int, got {text.get('max_length')!r}")
    if info["input"].get("names") != ["input_ids", "attention_mask"]:
        raise bad("input.names", f"must be ['input_ids', 'attention_mask'], got {info['input'].get('names')!r}")
    if not (isinstance(info.get("classes"), list) and info["classes"]):
        raise bad("classes", "must list the class names")
