"""`nas report`: every plot is drawn from the real run, embedded in the HTML and decodes as a PNG."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest

from tests.conftest import TINY, only_run_dir, run_nas

PLOTS = ["history.png", "importances.png", "parallel_coordinates.png", "accuracy_vs_params.png",
         "accuracy_vs_latency_ms.png", "learning_curves.png",
         "confusion_matrix.png", "roc_curves.png"]  # the selected model on the test split (report/test_plots.py)


@pytest.fixture(scope="module")
def reported_run(tmp_path_factory):
    """One tiny finished search (4 trials, fine-tune, export, robustness) and its report, shared by this module."""
    root = tmp_path_factory.mktemp("report")
    # Gates it meets: the run exits 0 and the report shows the verdict.
    proc = run_nas(["search", *TINY, "study.n_trials=4", "export.onnx=false", "export.torch_export=false",
                    "gate.min_accuracy=0.0", "gate.max_params=100000000",
                    "gate.max_latency_ms=100000"], cwd=root)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    run = only_run_dir(root)
    rep = run_nas(["report", str(run)], cwd=root)
    assert rep.returncode == 0, rep.stderr + rep.stdout
    assert "Traceback" not in rep.stderr
    return run


def test_html_references_and_embeds_every_plot(reported_run):
    from PIL import Image

    out = reported_run / "report"
    html = (out / "index.html").read_text(encoding="utf-8")
    assert sorted(p.name for p in out.glob("*.png")) == sorted(PLOTS)
    embedded = dict(re.findall(r'<figure id="([^"]+)">.*?src="data:image/png;base64,([^"]+)"', html))
    for name in PLOTS:
        assert f'href="{name}"' in html, name
        data = (out / name).read_bytes()
        assert base64.b64decode(embedded[name]) == data, f"{name}: embedded image differs from the file"
        with Image.open(io.BytesIO(data)) as img:
            img.load()  # decodes every pixel, not just the header
            assert img.format == "PNG" and img.width >= 300 and img.height >= 200
            assert len(set(img.convert("L").getdata())) > 10, f"{name} is blank"


def test_html_holds_the_top_table_robustness_and_model_card(reported_run):
    html = (reported_run / "report" / "index.html").read_text(encoding="utf-8")
    summary = json.loads((reported_run / "summary.json").read_text())
    assert "Model card: cnn on digits" in html  # rendered from export/model_card.md
    for row in summary["best_trials"]:
        assert f"<td>{row['number']}</td>" in html and row["description"] in html
    rob = summary["robustness"]
    assert "FGSM attack, epsilon 0.03" in html and f"{rob['fgsm_accuracy']:.4g}" in html
    assert f"optuna-dashboard {summary['storage']}" in html


def test_a_met_gate_exits_0_and_is_reported(reported_run):
    summary = json.loads((reported_run / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["gate"]["passed"] is True and len(summary["gate"]["checks"]) == 3
    html = (reported_run / "report" / "index.html").read_text(encoding="utf-8")
    assert 'Gate: <span class="pass">PASSED</span>' in html and "gate.max_params" in html


def test_importances_are_non_negative_and_sum_to_one(reported_run):
    importances = json.loads((reported_run / "report" / "importances.json").read_text())
    assert len(importances) >= 3, importances
    assert all(v >= 0 for v in importances.values())
    assert sum(importances.values()) == pytest.approx(1.0, abs=1e-6)
    # Every searched decision shared by all trials is scored: hyperparameters and architecture choices.
    summary = json.loads((reported_run / "summary.json").read_text())
    assert set(importances) <= set().union(*(r["params"] for r in summary["best_trials"]))
    assert {"lr", "n_layers", "activation"} <= set(importances)


def test_robustness_in_summary(reported_run):
    summary = json.loads((reported_run / "summary.json").read_text())
    rob = summary["robustness"]
    assert rob["samples"] == summary["data"]["test"]
    for key in ("clean_accuracy", "noise_accuracy", "fgsm_accuracy"):
        assert 0.0 <= rob[key] <= 1.0
    # The exported model on the test split: the same accuracy fine-tuning reported, up to one input.
    assert abs(rob["clean_accuracy"] - summary["finetune"]["test"]["accuracy"]) <= 1.0 / rob["samples"] + 1e-6
    assert (rob["noise_std"], rob["fgsm_epsilon"]) == (0.1, 0.03)


def test_optuna_dashboard_opens_the_run_storage(reported_run):
    """The README's `optuna-dashboard <storage>`: the dashboard's own storage loader and API see the study."""
    from wsgiref.util import setup_testing_defaults

    import optuna_dashboard
    from optuna_dashboard._storage_url import get_storage  # what the optuna-dashboard CLI calls

    storage_path = json.loads((reported_run / "summary.json").read_text())["storage"]
    storage = get_storage(storage_path)
    studies = storage.get_all_studies()
    assert [s.study_name for s in studies] == ["nas"]
    assert len(storage.get_all_trials(studies[0]._study_id)) == 4

    app = optuna_dashboard.wsgi(storage_path)
    environ = {"PATH_INFO": "/api/studies", "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    status = []
    body = b"".join(app(environ, lambda s, h, exc=None: status.append(s)))
    assert status[0].startswith("200"), status
    listed = json.loads(body)["study_summaries"]
    assert listed[0]["study_name"] == "nas" and listed[0]["directions"] == ["maximize"]


def test_report_on_a_missing_dir_is_a_clear_error(tmp_path, nas):
    proc = nas(["report", str(tmp_path / "nope")], cwd=tmp_path)
    assert proc.returncode != 0
    assert "no such run directory" in proc.stderr and "Traceback" not in proc.stderr


def test_pareto_front_keeps_only_undominated_points():
    from nas_cli.report.plots import pareto_front

    pts = [(10, 0.5, 0), (20, 0.9, 1), (15, 0.4, 2), (30, 0.85, 3), (5, 0.2, 4), (20, 0.95, 5)]
    assert [p[2] for p in pareto_front(pts)] == [4, 0, 5]


def test_fgsm_and_noise_hurt_a_linear_model_and_vanish_at_zero():
    import torch

    from nas_cli.deploy.robustness import evaluate_robustness

    torch.manual_seed(0)
    x = torch.randn(400, 2)
    y = (x[:, 0] > 0).long()
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))
        model.bias.zero_()
    clean = evaluate_robustness(model, x, y, noise_std=0.0, fgsm_epsilon=0.0)
    assert clean["clean_accuracy"] == clean["noise_accuracy"] == clean["fgsm_accuracy"] == 1.0
    hit = evaluate_robustness(model, x, y, noise_std=1.0, fgsm_epsilon=0.5, max_samples=300)
    assert hit["samples"] == 300
    # FGSM flips exactly the inputs within epsilon of the boundary; noise flips some at random.
    expected = float((x[:300, 0].abs() > 0.5).float().mean())
    assert hit["fgsm_accuracy"] == pytest.approx(expected, abs=1e-6)
    assert hit["noise_accuracy"] < 1.0
