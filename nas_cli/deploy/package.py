"""Export one fine-tuned model into a directory: files, verification, model card, compressed variants."""

from __future__ import annotations

from pathlib import Path


def export_selected(settings: dict, ctx, out: dict, cost: dict, export_dir: Path, dataset: str, reporter) -> dict:
    """Export one fine-tuned model (files, verification, model card, compressed variants) into `export_dir`."""
    from nas_cli.deploy.compress import compress_step
    from nas_cli.deploy.export import export_all, write_model_card
    from nas_cli.spaces.ensemble import describe

    ex, model = settings["export"], out["model"]
    exported, inputs = model, ctx.task.export_inputs(ctx.data.spec, ctx.data.test_x[:256])
    signature = ctx.task.signature(ctx.data.spec)
    if getattr(ctx.data.spec, "audio", None) is not None:  # the export takes raw samples: front end + network
        from nas_cli.deploy.audio_export import audio_export_parts

        exported, inputs, signature = audio_export_parts(model, ctx.data, signature)
    result = export_all(exported, space_name=ctx.space.name, arch=out["arch"], hparams=out["hparams"].to_dict(),
                        spec=ctx.data.spec, config=settings, inputs=inputs,
                        out_dir=export_dir,
                        tolerance=float(ex["tolerance"]), onnx=bool(ex["onnx"]), torch_export=bool(ex["torch_export"]),
                        signature=signature, preprocess=ctx.data.preprocess)
    card = write_model_card(export_dir / "model_card.md", space_name=ctx.space.name,
                            description=describe(ctx.space, out["arch"]), arch=out["arch"],
                            hparams=out["hparams"].to_dict(), test=out["test"], cost=cost, export=result,
                            dataset=dataset, signature=signature)
    result["files"]["model_card"] = str(card)
    if result["files"].get("onnx") and ctx.data.preprocess:
        from nas_cli.deploy.raw_inputs import write_raw_input_files

        result["files"].update(write_raw_input_files(ctx.data, export_dir, signature))
    view = None
    if exported is not model:  # the variants take raw waveforms too: calibrated and measured on clips
        from nas_cli.deploy.audio_export import audio_variant_view

        view = audio_variant_view(ctx, signature)
    compress_step(settings, model, ctx, out["hparams"], result, export_dir, reporter, view)
    return result
