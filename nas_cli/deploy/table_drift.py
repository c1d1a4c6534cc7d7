"""Data drift for tables: do new rows look like the training split? numpy + scipy + pandas, no torch.

At export, `table_reference(train_frame, info)` stores per column what the training rows looked
like (numeric: missing rate, mean, std, deciles and a seeded sample; categorical: the count of each
vocabulary value, of values outside it and of missing cells); later `compare_tables(reference,
new_frame)` tests each column (numeric: two-sample Kolmogorov-Smirnov; categorical: chi-square on
the category counts, unseen values pooled into "<unseen>"; any column whose missing rate is not 0
on both sides: chi-square on missing vs present), Bonferroni-corrected across all tests, reports
PSI (< 0.1 none, 0.1-0.25 moderate, > 0.25 major) and says in words whether, and how, they differ.
"""

from __future__ import annotations

from nas_cli.errors import ConfigError

FORMAT = "nas-table-drift-reference-1"
UNSEEN = "<unseen>"
EPS = 1e-4  # share floor in PSI: an empty bin would make the log infinite


def table_reference(frame, info: dict, max_samples: int = 2000, seed: int = 0) -> dict:
    """JSON-able reference: per-column statistics of the training rows and a seeded numeric sample."""
    import numpy as np

    from nas_cli.deploy.drift import _sample

    table = info.get("table", info)  # preprocess.json wraps the loader's description in "table"
    n = _check(frame, [c["name"] for c in table["numeric"]] + [c["name"] for c in table["categorical"]])
    numeric = []
    for col in table["numeric"]:
        values = _numbers(frame[col["name"]])
        seen = values[np.isfinite(values)]  # inf counts as missing too
        edges = np.unique(np.quantile(seen, np.linspace(0.1, 0.9, 9))) if len(seen) else np.zeros(0)
        numeric.append({"name": col["name"], "present": int(len(seen)), "missing": int(n - len(seen)),
                        "missing_rate": 1 - len(seen) / n,
                        "mean": float(seen.mean()) if len(seen) else None,
                        "std": float(seen.std()) if len(seen) else None, "quantiles": edges.tolist(),
                        "bin_shares": _shares(seen, edges).tolist(),
                        "sample": np.round(seen[_sample(len(seen), max_samples, seed)], 5).tolist()})
    categorical = []
    for col in table["categorical"]:
        vocabulary = [_key(v) for v in col["vocabulary"]]
        counts, missing = _categories(frame[col["name"]], vocabulary)
        seen = max(1, int(counts.sum()))
        categorical.append({"name": col["name"], "vocabulary": vocabulary, "present": n - missing,
                            "missing": missing, "missing_rate": missing / n, "counts": counts[:-1].tolist(),
                            "unseen": int(counts[-1]), "frequencies": (counts[:-1] / seen).tolist(),
                            "unseen_rate": float(counts[-1] / seen)})
    return {"format": FORMAT, "count": n, "seed": int(seed), "max_samples": int(max_samples),
            "numeric": numeric, "categorical": categorical}


def compare_tables(reference: dict, frame, alpha: float = 0.01, seed: int = 0) -> dict:
    """Drift of new rows against `reference`: per-column tests and statistics, a verdict."""
    import numpy as np
    from scipy.stats import ks_2samp

    from nas_cli.deploy.drift import _sample

    if reference.get("format") != FORMAT or "numeric" not in reference:
        raise ConfigError(f"not a table drift reference (format {reference.get('format')!r}, expected {FORMAT!r})")
    refs = reference["numeric"] + reference["categorical"]
    n = _check(frame, [r["name"] for r in refs])
    columns, tests = [], []
    for ref in reference["numeric"]:
        values = _numbers(frame[ref["name"]])
        seen = values[np.isfinite(values)]  # inf counts as missing too
        row = _missing_row(ref, "numeric", n - len(seen), n, tests)
        mean = float(seen.mean()) if len(seen) else None
        scale = ref["std"] if ref["std"] else 1.0  # a constant training column: shift in raw units
        shift = None if mean is None or ref["mean"] is None else mean - ref["mean"]
        row.update(mean=mean, std=float(seen.std()) if len(seen) else None, reference_mean=ref["mean"],
                   reference_std=ref["std"], mean_shift=shift,
                   mean_shift_in_std=None if shift is None else shift / scale,
                   std_ratio=float(seen.std() / ref["std"]) if len(seen) and ref["std"] else None)
        if len(seen) and ref["sample"]:
            # Rounded as the stored sample is: a tie broken by rounding on one side only would
            # shift every tied value to one side of the KS statistic.
            new = np.round(seen[_sample(len(seen), reference["max_samples"], seed + 1)], 5)
            res = ks_2samp(np.asarray(ref["sample"], dtype=np.float64), new)
            tests.append(_test(ref["name"], "ks", res.statistic, res.pvalue))
            row["psi"] = _psi(np.asarray(ref["bin_shares"]), _shares(seen, np.asarray(ref["quantiles"])))
        else:
            row["note"] = "no non-missing values on one side; no KS test"
        columns.append(row)
    for ref in reference["categorical"]:
        counts, missing = _categories(frame[ref["name"]], ref["vocabulary"])
        row = _missing_row(ref, "categorical", missing, n, tests)
        ref_counts = np.asarray(ref["counts"] + [ref["unseen"]], dtype=np.float64)
        seen = counts.sum()
        row.update(new_category_rate=float(counts[-1] / seen) if seen else None,
                   reference_new_category_rate=ref["unseen_rate"], skipped_bins=[])
        if seen and ref_counts.sum():
            names = ref["vocabulary"] + [UNSEEN]
            keep = (ref_counts + counts) > 0  # a bin empty on both sides has no expected count
            row["skipped_bins"] = [b for b, k in zip(names, keep, strict=True) if not k]
            if row["skipped_bins"]:
                row["note"] = f"{len(row['skipped_bins'])} bin(s) empty on both sides left out of the chi-square test"
            top = int(np.argmax(np.abs(counts / seen - ref_counts / ref_counts.sum())))
            row.update(psi=_psi(ref_counts / ref_counts.sum(), counts / seen), most_changed=names[top],
                       most_changed_share=float(counts[top] / seen),
                       reference_most_changed_share=float(ref_counts[top] / ref_counts.sum()))
            if keep.sum() >= 2:
                tests.append(_chi2(ref["name"], "chi-square", np.stack([ref_counts[keep], counts[keep]])))
            else:
                row["note"] = "fewer than 2 non-empty categories; no chi-square test"
        else:
            row["note"] = "no non-missing values on one side; no chi-square test"
        columns.append(row)
    for t in tests:  # Bonferroni across every test of every column
        t["p_corrected"] = float(min(1.0, t["p_value"] * len(tests)))
    drifted = [t["feature"] for t in tests if t["p_corrected"] < alpha]
    for row in columns:
        mine = [t for t in tests if t["column"] == row["column"]]
        row["p_corrected"] = min((t["p_corrected"] for t in mine), default=None)
        row["drifted_tests"] = [t["test"] for t in mine if t["feature"] in drifted]
        row["drifted"] = bool(row["drifted_tests"])
        row["psi_reading"] = _reading(row.get("psi"))
    return {"drifted": bool(drifted), "verdict": _verdict(columns, alpha), "alpha": alpha, "count": n,
            "reference_count": reference["count"], "features": tests, "drifted_features": drifted,
            "columns": columns}


def _missing_row(ref: dict, kind: str, missing: int, n: int, tests: list) -> dict:
    """The column's row with its missing rates; a missing-vs-present test unless none is missing."""
    row = {"column": ref["name"], "kind": kind, "missing_rate": missing / n,
           "reference_missing_rate": ref["missing_rate"], "missing_rate_change": missing / n - ref["missing_rate"],
           "psi": None, "note": None}
    if ref["missing"] + missing > 0 and ref["present"] + n - missing > 0:
        tests.append(_chi2(ref["name"], "missing", [[ref["missing"], ref["present"]], [missing, n - missing]]))
    return row


def _chi2(column: str, test: str, table) -> dict:
    from scipy.stats import chi2_contingency

    res = chi2_contingency(table)
    return _test(column, test, res.statistic, res.pvalue)


def _test(column: str, test: str, statistic, p_value) -> dict:
    name = column if test != "missing" else f"{column} (missing)"
    return {"feature": name, "column": column, "test": test, "statistic": float(statistic),
            "p_value": float(p_value)}


def _verdict(columns: list[dict], alpha: float) -> str:
    test = f"KS/chi-square, p<{alpha:g} after Bonferroni"
    if not columns:
        return f"no drift detected (0 of 0 columns differ, {test})"
    drifted = [c for c in columns if c["drifted"]]
    worst = max(drifted or columns, key=lambda c: (c["psi"] or 0.0, abs(c["missing_rate_change"])))
    missing = f"missing {worst['reference_missing_rate']:.0%} -> {worst['missing_rate']:.0%}"
    if worst["drifted_tests"] == ["missing"]:
        how, missing = missing, ""
    elif worst["kind"] == "numeric" and worst["mean_shift_in_std"] is not None:
        how = f"mean {worst['mean_shift_in_std']:+.2f} training std"
        if worst["std_ratio"] is not None and abs(worst["std_ratio"] - 1) >= 0.1:
            how += f", std x{worst['std_ratio']:.2f}"
    elif worst["kind"] == "categorical" and (worst["new_category_rate"] or 0) >= 0.01:
        how = f"{worst['new_category_rate']:.0%} new categories"
    elif worst.get("most_changed") is not None:
        how = (f"share of {worst['most_changed']!r} {worst['reference_most_changed_share']:.0%} -> "
               f"{worst['most_changed_share']:.0%}")
    else:
        how = "no values to compare"
    if missing and abs(worst["missing_rate_change"]) >= 0.01:
        how += f", {missing}"
    shift = f"column {worst['column']} {how}" + (f" (PSI {worst['psi']:.2f})" if worst["psi"] is not None else "")
    if not drifted:
        return f"no drift detected (0 of {len(columns)} columns differ, {test}; largest shift: {shift})"
    return f"drift: {shift}; {len(drifted)} of {len(columns)} columns differ ({test})"


def _reading(psi) -> str | None:
    return None if psi is None else "none" if psi < 0.1 else "moderate" if psi <= 0.25 else "major"


def _psi(expected, actual) -> float:
    import numpy as np

    e, a = np.maximum(expected, EPS), np.maximum(actual, EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def _shares(values, edges):
    """Share of values in each bin (-inf, e0], (e0, e1], ..., (e_last, inf)."""
    import numpy as np

    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    return counts / max(1, len(values))


def _categories(series, vocabulary: list[str]):
    """Counts per vocabulary value, then one of values outside it; and the number of missing cells."""
    import numpy as np

    index = {v: i for i, v in enumerate(vocabulary)}
    keys = [None if _missing(v) else _key(v) for v in series.tolist()]
    codes = [index.get(k, len(vocabulary)) for k in keys if k is not None]
    return np.bincount(np.asarray(codes, dtype=np.int64), minlength=len(vocabulary) + 1), len(keys) - len(codes)


def _missing(value) -> bool:
    import pandas as pd

    return (isinstance(value, str) and not value.strip()) or (not isinstance(value, str) and bool(pd.isna(value)))


def _key(value) -> str:
    """A category as text: 3, 3.0 and "3" are one category (numbers from built-in tables, text from CSV)."""
    import numpy as np

    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _numbers(series):
    import pandas as pd

    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64")


def _check(frame, names: list[str]) -> int:
    import pandas as pd

    if not isinstance(frame, pd.DataFrame) or len(frame) == 0:
        raise ConfigError(f"expected a table with at least one row, got {type(frame).__name__} of length "
                          f"{len(frame) if hasattr(frame, '__len__') else '?'}")
    lacking = [c for c in names if c not in frame.columns]
    if lacking:
        raise ConfigError(f"the table lacks column(s) {', '.join(map(repr, lacking))} of the training split "
                          f"(it has {', '.join(map(str, frame.columns))})")
    return int(len(frame))
