"""evaluator=zero_cost (untrained trials, then fine-tune and export of the top-k) and prescreen
(scored candidates enqueued as the first trained trials), end to end in process on digits."""

from __future__ import annotations

from tests.test_reliability import load_trials, run_in_process


def test_zero_cost_search_trains_only_the_fine_tuned_networks(compose_cfg, tmp_path):
    run = tmp_path / "run"
    code, summary = run_in_process(compose_cfg, run, ["evaluator=zero_cost", "study.n_trials=4", "zero_cost.reference=4",
                                                       "zero_cost.batch_size=16", "finetune.enabled=true",
                                                       "finetune.top_k=1", "export.onnx=false",
                                                       "robustness.enabled=false"])
    assert code == 0, summary.get("error")
    assert summary["objectives"] == ["zero_cost:max"] and summary["evaluator"]["name"] == "zero_cost"
    trials = load_trials(run / "study.journal")
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    for t in trials:
        assert set(t.user_attrs["proxies"]) >= {"synflow", "jacob_cov", "params", "flops"}
        assert 0.0 <= t.values[0] <= 1.1 and t.user_attrs["metrics"]["epochs"] == 0
        assert not (run / "trials" / str(t.number) / "metrics.jsonl").exists()  # never trained
    best = max(trials, key=lambda t: t.values[0])
    assert summary["finetune"]["selected_trial"] == best.number


def test_prescreen_enqueues_the_best_scored_candidates_first(compose_cfg, tmp_path):
    run = tmp_path / "run"
    code, summary = run_in_process(compose_cfg, run, ["study.n_trials=2", "prescreen.candidates=6", "prescreen.keep=2",
                                                       "zero_cost.batch_size=16"])
    assert code == 0, summary.get("error")
    pre = summary["prescreen"]
    assert pre["candidates"] == 6 and pre["keep"] == 2 and pre["enqueued"]["enqueued"] == 2
    assert [r["rank"] for r in pre["table"]] == list(range(1, 7)) and 0 < pre["share_of_search"] < 1
    trials = load_trials(run / "study.journal")
    kept = [r for r in pre["table"] if r["kept"]]
    for t, row in zip(trials, kept, strict=True):
        assert t.params == row["params"] and t.user_attrs["prescreen"]["rank"] == row["rank"]
        assert t.user_attrs["prescreen"]["proxies"] == row["proxies"]  # proxy values: trial attributes
        assert t.user_attrs["prescreen"]["proxy_seconds"] == row["proxy_seconds"]
        assert t.state.name == "COMPLETE"  # trained like any trial
    for row in pre["table"]:  # time per proxy per architecture
        assert set(row["proxy_seconds"]) == set(row["proxies"]) >= {"synflow", "jacob_cov", "params", "flops"}
        assert all(v >= 0 for v in row["proxy_seconds"].values())
    assert set(pre["proxy_seconds_median"]) == set(pre["table"][0]["proxies"])

    from nas_cli.report.build import build_report

    html = build_report(run).read_text()
    section = html[html.index("<h2>Pre-screen</h2>"):html.index("<h2>Search</h2>")]
    assert "6 of 6 sampled architectures scored untrained" in section
    assert section.count("<tr>") == 1 + 6 + 1 + len(pre["proxy_seconds_median"])  # header + rows, proxy-time table
    for row in pre["table"]:
        assert row["description"] in section


def test_prescreen_leaves_out_candidates_over_a_limit_before_scoring_them(compose_cfg, tmp_path):
    run = tmp_path / "run"
    code, summary = run_in_process(compose_cfg, run, ["study.n_trials=1", "prescreen.candidates=12", "prescreen.keep=1",
                                                       "zero_cost.batch_size=16", "search_space=cnn",
                                                       "constraints.max_params=60000"])
    assert code == 0, summary.get("error")
    pre = summary["prescreen"]
    assert pre["candidates"] == 12 and 0 < pre["rejected"] < 12 and pre["scored"] == 12 - pre["rejected"]
    for row in pre["table"]:  # only feasible ones are scored and listed; the limit was checked on the meta device
        assert row["proxies"]["params"] <= 60000
    trial = load_trials(run / "study.journal")[0]
    assert trial.state.name == "COMPLETE" and trial.user_attrs["prescreen"]["rank"] == 1


def test_prescreen_needs_the_training_evaluator(compose_cfg, tmp_path):
    code, summary = run_in_process(compose_cfg, tmp_path / "run", ["evaluator=zero_cost", "prescreen.candidates=5"])
    assert code == 2 and "prescreen.candidates needs the training evaluator" in summary["error"]
