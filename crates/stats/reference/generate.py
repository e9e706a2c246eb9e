#!/usr/bin/env python3
"""Writes testdata/stats/reference.json: the numbers ff-stats must reproduce,
computed by scipy and statsmodels on fixed data sets.

Run through scripts/stats-reference (which makes a venv with scipy and
statsmodels under target/). The Rust tests only read the JSON; they never
need Python. Rerun this only when a data set is added or changed, and commit
the JSON with the change.

Every expected number comes from a library function named next to it, except
the lift of a mean (the delta method has no scipy/statsmodels function): that
one is the formula written out in numpy, with the normal quantile from scipy.
"""

import json
import math
import pathlib
import sys

import numpy as np
import scipy
import statsmodels
from scipy import special, stats
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

OUT = pathlib.Path(__file__).resolve().parents[3] / "testdata" / "stats" / "reference.json"


def f(x):
    """A finite float, or None (JSON null) for nan/inf."""
    x = float(x)
    return x if math.isfinite(x) else None


def wilson(x, n, level):
    low, high = proportion_confint(x, n, alpha=1 - level, method="wilson")
    return {"rate": x / n, "low": f(low), "high": f(high)}


def conversion_case(name, control, variant, level=0.95):
    (n0, x0), (n1, x1) = control, variant
    case = {
        "name": name,
        "confidence_level": level,
        "control": {"exposed_users": n0, "conversions": x0},
        "variant": {"exposed_users": n1, "conversions": x1},
        "control_rate": wilson(x0, n0, level),
        "variant_rate": wilson(x1, n1, level),
    }
    # Pooled two-proportion z-test; statsmodels pools by default.
    pooled = (x0 + x1) / (n0 + n1)
    if 0 < pooled < 1:
        z, p = proportions_ztest([x1, x0], [n1, n0])
        case["z"], case["p_value"] = f(z), f(p)
    else:
        case["z"], case["p_value"] = None, None
    # Relative lift and Katz's log interval of the risk ratio, minus one.
    if x0 > 0:
        case["lift"] = (x1 / n1) / (x0 / n0) - 1
        if x1 > 0:
            low, high = confint_proportions_2indep(
                x1, n1, x0, n0, method="log", compare="ratio", alpha=1 - level
            )
            case["lift_interval"] = {"low": f(low - 1), "high": f(high - 1)}
        else:
            case["lift_interval"] = None
    else:
        case["lift"] = None
        case["lift_interval"] = None
    return case


def describe(values, level):
    n = len(values)
    mean = float(np.mean(values))
    sd = float(np.std(values, ddof=1)) if n >= 2 else None
    if n >= 2:
        low, high = stats.t.interval(level, n - 1, loc=mean, scale=stats.sem(values))
        interval = {"low": f(low), "high": f(high)}
    else:
        interval = None
    return {"n": n, "mean": mean, "standard_deviation": sd, "interval": interval}


def numeric_case(name, control, variant, level=0.95, as_sums=False):
    control = np.asarray(control, dtype=float)
    variant = np.asarray(variant, dtype=float)
    case = {"name": name, "confidence_level": level}
    for key, values in (("control", control), ("variant", variant)):
        if as_sums:
            case[key] = {
                "n": len(values),
                "sum": math.fsum(values),
                "sum_of_squares": math.fsum(values * values),
            }
        else:
            case[key] = {"values": values.tolist()}
        case[key + "_expected"] = describe(values, level)
    welch = stats.ttest_ind(variant, control, equal_var=False)
    case["t"], case["p_value"], case["degrees_of_freedom"] = (
        f(welch.statistic),
        f(welch.pvalue),
        f(welch.df),
    )
    # Delta method for m1/m0 (Deng, Knoblich & Lu 2018): written out.
    m0, m1 = control.mean(), variant.mean()
    e0 = control.var(ddof=1) / len(control)
    e1 = variant.var(ddof=1) / len(variant)
    lift = (m1 - m0) / m0
    se = math.sqrt((e1 + (m1 / m0) ** 2 * e0) / m0**2)
    z = stats.norm.isf((1 - level) / 2)
    case["lift"] = lift
    case["lift_interval"] = {"low": lift - z * se, "high": lift + z * se}
    return case


def srm_case(name, weights, exposures):
    total = sum(exposures)
    expected = [total * w / sum(weights) for w in weights]
    result = stats.chisquare(exposures, f_exp=expected)
    return {
        "name": name,
        "weights": weights,
        "exposures": exposures,
        "chi_square": f(result.statistic),
        "degrees_of_freedom": len(weights) - 1,
        "p_value": f(result.pvalue),
    }


def distributions():
    zs = [-38.0, -12.5, -6.0, -3.2, -1.959963984540054, -0.5, -1e-8, 0.0, 0.3, 1.0, 2.5, 5.0, 8.3, 20.0, 37.5]
    ps = [1e-300, 1e-100, 1e-20, 1e-9, 0.0005, 0.005, 0.025, 0.1, 0.4, 0.5, 0.6, 0.975, 0.995, 0.9999999]
    t_args = [
        (t, df)
        for df in [1.0, 2.0, 3.7, 10.0, 29.5, 136.875, 1e4, 2e6, 2e9]
        for t in [0.0, 0.25, 1.0, 1.96, 3.0, 6.5, 25.0]
    ]
    t_quantile_args = [
        (p, df) for df in [1.0, 2.0, 4.5, 30.0, 1e3, 1e6] for p in [1e-12, 0.0005, 0.025, 0.3, 0.975, 0.995]
    ]
    chi_args = [
        (x, df)
        for df in [1, 2, 3, 4, 9, 30]
        for x in [0.0, 1e-6, 0.47, 1.0, 3.84, 10.0, 40.0, 200.0, 2000.0]
    ]
    beta_args = [
        (a, b, x)
        for a, b in [(0.5, 0.5), (1.0, 3.0), (2.5, 0.5), (15.0, 25.0), (100.0, 0.5), (5e5, 0.5), (300.0, 400.0), (1e6, 1e6)]
        for x in [1e-10, 0.01, 0.25, 0.5, 0.499, 0.7, 0.99, 0.999999]
    ]
    gamma_args = [
        (a, x)
        for a in [0.5, 1.0, 1.5, 4.5, 20.0, 100.0]
        for x in [1e-8, 0.1, 1.0, 4.0, 25.0, 120.0, 600.0]
    ]
    return {
        "normal_cdf": [[z, f(stats.norm.cdf(z))] for z in zs],
        "normal_sf": [[z, f(stats.norm.sf(z))] for z in zs],
        "normal_quantile": [[p, f(stats.norm.ppf(p))] for p in ps],
        "student_t_cdf": [[t, df, f(stats.t.cdf(t, df))] for t, df in t_args],
        "student_t_sf": [[t, df, f(stats.t.sf(t, df))] for t, df in t_args],
        "student_t_quantile": [[p, df, f(stats.t.ppf(p, df))] for p, df in t_quantile_args],
        "chi_square_sf": [[x, df, f(stats.chi2.sf(x, df))] for x, df in chi_args],
        "regularized_incomplete_beta": [[a, b, x, f(special.betainc(a, b, x))] for a, b, x in beta_args],
        "regularized_lower_gamma": [[a, x, f(special.gammainc(a, x))] for a, x in gamma_args],
        "regularized_upper_gamma": [[a, x, f(special.gammaincc(a, x))] for a, x in gamma_args],
    }


def main():
    rng = np.random.default_rng(20261207)
    conversions = [
        conversion_case("small", (200, 18), (210, 27)),
        conversion_case("small_at_99_percent", (200, 18), (210, 27), level=0.99),
        conversion_case("large", (1_000_000, 31_240), (1_000_000, 32_105)),
        conversion_case("lopsided", (50_000, 1_500), (2_000, 80)),
        conversion_case("variant_worse", (10_000, 520), (10_000, 430)),
        conversion_case("zero_conversions_in_control", (500, 0), (500, 3)),
        conversion_case("zero_conversions_in_variant", (500, 4), (500, 0)),
        conversion_case("all_converted", (50, 50), (40, 38)),
        conversion_case("single_user", (1, 1), (1, 0)),
        conversion_case("huge", (1_000_000_000, 30_000_000), (1_000_000_000, 30_010_000)),
    ]
    revenue = lambda size, buy, scale: np.round(
        np.where(rng.random(size) < buy, rng.lognormal(3.0, scale, size), 0.0), 2
    )
    numeric = [
        numeric_case(
            "unequal_variances",
            np.round(rng.normal(10.0, 2.0, 40), 2),
            np.round(rng.normal(11.5, 6.0, 60), 2),
        ),
        numeric_case("tiny", [3.0, 5.0], [4.0, 4.5, 9.0]),
        numeric_case("revenue_raw", revenue(1_500, 0.08, 1.0), revenue(1_600, 0.10, 1.1)),
        numeric_case("revenue_sums", revenue(200_000, 0.05, 1.0), revenue(200_000, 0.052, 1.0), as_sums=True),
        numeric_case("revenue_sums_at_90_percent", revenue(5_000, 0.3, 0.8), revenue(5_200, 0.3, 0.8), level=0.90, as_sums=True),
    ]
    srm = [
        srm_case("balanced", [50, 50], [50_123, 49_877]),
        srm_case("mismatch", [50, 50], [50_000, 48_600]),
        srm_case("three_way", [20, 30, 50], [2_010, 2_950, 5_040]),
        srm_case("fractions", [0.1, 0.9], [1_130, 8_870]),
        srm_case("huge", [50, 50], [1_000_000_000, 999_900_000]),
    ]
    document = {
        "generated_by": "crates/stats/reference/generate.py",
        "versions": {
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "statsmodels": statsmodels.__version__,
        },
        "distributions": distributions(),
        "conversion": conversions,
        "numeric": numeric,
        "sample_ratio": srm,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
