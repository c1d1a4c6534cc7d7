"""The pre-screen section of `nas report`: summary.json["prescreen"] (prescreen.candidates/keep) as a table."""

from __future__ import annotations

from html import escape


def prescreen_section(summary: dict) -> str:
    """Candidates scored untrained, the kept ones (trained first), their proxies and seconds; "" without a pre-screen."""
    from nas_cli.report.html import _table

    pre = summary.get("prescreen")
    if not pre:
        return ""
    if pre.get("skipped"):
        return f"<h2>Pre-screen</h2><p>{escape(str(pre['skipped']))}</p>"
    table = pre.get("table") or []
    proxies = list(dict.fromkeys(k for r in table for k in (r.get("proxies") or {})))
    share = pre.get("share_of_search")
    head = (f"<h2>Pre-screen</h2><p>{pre.get('scored')} of {pre.get('candidates')} sampled architectures scored untrained "
            f"(zero_cost.proxy={escape(str(pre.get('proxy')))}, {pre.get('rejected', 0)} over a limit) in "
            f"{pre.get('seconds', 0):.1f} s ({pre.get('seconds_per_candidate', 0) * 1000:.0f} ms each"
            + (f", {share:.1%} of the search" if share is not None else "") + f"); the best {pre.get('keep')} "
            f"were the study's first trials (pick: the score's rank minus {pre.get('cost_weight', 0)} x the FLOPs' "
            f"rank; hyperparameters: {escape(str(pre.get('hparams', 'sampled')))}). The best {len(table)} are listed.</p>")
    rows = [[r.get("rank"), "yes" if r.get("kept") else "", r.get("score"), r.get("pick", r.get("score")),
             *[(r.get("proxies") or {}).get(p) for p in proxies], r.get("seconds"), r.get("description", "")]
            for r in table]
    html = head + _table(["rank", "kept", "score", "pick", *proxies, "seconds", "architecture"], rows)
    median = pre.get("proxy_seconds_median") or {}
    if median:
        html += "<h3>Seconds per proxy per architecture (median)</h3>" + _table(
            ["proxy", "ms"], [[k, v * 1000] for k, v in median.items()])
    return html
