//! The distributions the tests need: standard normal, Student's t and
//! chi-square, plus the special functions beneath them.
//!
//! Each function returns `None` for arguments outside its domain (a
//! probability outside (0, 1), zero degrees of freedom, NaN) or when its
//! expansion fails to converge, never NaN. Upper tails ("survival functions")
//! are computed directly, not as `1 − cdf`, so that tiny p-values keep their
//! digits.

use crate::special::{Tails, incomplete_beta, incomplete_gamma, ln_gamma};
use crate::{is_open_probability, is_positive};

/// √(2π).
const SQRT_TWO_PI: f64 = 2.506_628_274_631_000_5;

/// `P(Z ≤ z)` and `P(Z > z)` for a standard normal `Z`, from
/// `P(Z > z) = ½ Q(½, z²/2)` for `z ≥ 0` (Abramowitz & Stegun 26.2.30 with
/// 6.5.17: erfc(x) = Q(½, x²)).
fn normal_tails(z: f64) -> Option<Tails> {
    if z.is_nan() {
        return None;
    }
    let beyond = incomplete_gamma(0.5, z * z / 2.0)?;
    // `beyond.upper` = P(|Z| > |z|), split evenly between the two tails.
    let far = 0.5 * beyond.upper;
    let near = 0.5 + 0.5 * beyond.lower;
    Some(if z >= 0.0 {
        Tails {
            lower: near,
            upper: far,
        }
    } else {
        Tails {
            lower: far,
            upper: near,
        }
    })
}

/// The standard normal cumulative distribution function `P(Z ≤ z)`.
pub fn normal_cdf(z: f64) -> Option<f64> {
    normal_tails(z).map(|tails| tails.lower)
}

/// The standard normal survival function `P(Z > z)`.
pub fn normal_sf(z: f64) -> Option<f64> {
    normal_tails(z).map(|tails| tails.upper)
}

/// The standard normal density.
fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / SQRT_TWO_PI
}

/// The standard normal quantile: the `z` with `P(Z ≤ z) = p`, for `0 < p < 1`.
///
/// Acklam's rational approximation (P. J. Acklam, "An algorithm for computing
/// the inverse normal cumulative distribution function", 2003; relative error
/// below 1.2e-9) polished by two Halley steps on [`normal_cdf`], which brings
/// it to double precision.
pub fn normal_quantile(p: f64) -> Option<f64> {
    if !is_open_probability(p) {
        return None;
    }
    let mut z = acklam(p);
    for _ in 0..2 {
        // Work in the nearer tail so that the error keeps its digits.
        let error = if z <= 0.0 {
            normal_cdf(z)? - p
        } else {
            (1.0 - p) - normal_sf(z)?
        };
        let step = error / normal_pdf(z);
        z -= step / (1.0 + 0.5 * z * step);
    }
    z.is_finite().then_some(z)
}

/// Acklam's starting approximation for [`normal_quantile`].
fn acklam(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.02425;
    let polynomial = |coefficients: &[f64], x: f64| {
        coefficients
            .iter()
            .fold(0.0, |sum, coefficient| sum * x + coefficient)
    };
    let tail = |q: f64| {
        let r = (-2.0 * q.ln()).sqrt();
        polynomial(&C, r) / (polynomial(&D, r) * r + 1.0)
    };
    if p < P_LOW {
        tail(p)
    } else if p > 1.0 - P_LOW {
        -tail(1.0 - p)
    } else {
        let q = p - 0.5;
        let r = q * q;
        q * polynomial(&A, r) / (polynomial(&B, r) * r + 1.0)
    }
}

/// `P(T ≤ t)` and `P(T > t)` for Student's t with `df` degrees of freedom,
/// from `P(|T| > |t|) = I_{ν/(ν+t²)}(ν/2, ½)` (Abramowitz & Stegun 26.7.1
/// with 26.5.27).
fn student_t_tails(t: f64, df: f64) -> Option<Tails> {
    if t.is_nan() || !is_positive(df) {
        return None;
    }
    // Beyond 1e30 degrees of freedom the t distribution is the normal one to
    // double precision (they differ by O(1/ν)), and the beta function's
    // shapes would overflow on the way.
    if df > 1e30 {
        return normal_tails(t);
    }
    let square = t * t;
    let (x, y) = if square.is_infinite() {
        (0.0, 1.0)
    } else {
        (df / (df + square), square / (df + square))
    };
    let beyond = incomplete_beta(df / 2.0, 0.5, x, y)?;
    let far = 0.5 * beyond.lower;
    let near = 0.5 + 0.5 * beyond.upper;
    Some(if t >= 0.0 {
        Tails {
            lower: near,
            upper: far,
        }
    } else {
        Tails {
            lower: far,
            upper: near,
        }
    })
}

/// Student's t cumulative distribution function `P(T ≤ t)`, `df > 0`
/// (fractional degrees of freedom allowed, as Welch's test needs).
pub fn student_t_cdf(t: f64, df: f64) -> Option<f64> {
    student_t_tails(t, df).map(|tails| tails.lower)
}

/// Student's t survival function `P(T > t)`, `df > 0`.
pub fn student_t_sf(t: f64, df: f64) -> Option<f64> {
    student_t_tails(t, df).map(|tails| tails.upper)
}

/// Student's t density (A&S 26.7.1).
fn student_t_pdf(t: f64, df: f64) -> f64 {
    let ln_norm =
        ln_gamma((df + 1.0) / 2.0) - ln_gamma(df / 2.0) - 0.5 * (df * std::f64::consts::PI).ln();
    (ln_norm - (df + 1.0) / 2.0 * (t * t / df).ln_1p()).exp()
}

/// The quantile of Student's t: the `t` with `P(T ≤ t) = p`, `0 < p < 1`.
///
/// Newton's method on [`student_t_sf`] from the normal quantile, kept inside
/// a bracket that is halved whenever a Newton step would leave it (the
/// "rtsafe" scheme of Numerical Recipes §9.4), so it cannot diverge.
pub fn student_t_quantile(p: f64, df: f64) -> Option<f64> {
    if !is_open_probability(p) || !is_positive(df) {
        return None;
    }
    if p == 0.5 {
        return Some(0.0);
    }
    // Solve in the upper half: P(T > t) = q with q < ½, then mirror.
    let (q, sign) = if p > 0.5 { (1.0 - p, 1.0) } else { (p, -1.0) };
    let mut low = 0.0_f64;
    let mut high = normal_quantile(1.0 - q)?.max(1.0);
    while student_t_sf(high, df)? > q {
        low = high;
        high *= 2.0;
        if high.is_infinite() {
            return None;
        }
    }
    let mut t = 0.5 * (low + high);
    for _ in 0..200 {
        let excess = student_t_sf(t, df)? - q;
        if excess > 0.0 {
            low = t;
        } else {
            high = t;
        }
        // sf decreases with slope −pdf: Newton's step is excess / pdf.
        let newton = t + excess / student_t_pdf(t, df);
        let next = if newton > low && newton < high && newton.is_finite() {
            newton
        } else {
            0.5 * (low + high)
        };
        if (next - t).abs() <= 1e-15 * next.abs() {
            return Some(sign * next);
        }
        t = next;
    }
    Some(sign * t)
}

/// The chi-square survival function `P(X > x)` with `df` degrees of freedom:
/// `Q(df/2, x/2)` (Abramowitz & Stegun 26.4.19).
pub fn chi_square_sf(x: f64, df: f64) -> Option<f64> {
    if x.is_nan() || !is_positive(df) {
        return None;
    }
    incomplete_gamma(df / 2.0, x.max(0.0) / 2.0).map(|tails| tails.upper)
}

/// The regularized incomplete beta function `I_x(a, b)` (scipy's `betainc`),
/// for `a, b > 0` and `0 ≤ x ≤ 1`.
pub fn regularized_incomplete_beta(a: f64, b: f64, x: f64) -> Option<f64> {
    if !(is_positive(a) && is_positive(b) && (0.0..=1.0).contains(&x)) {
        return None;
    }
    incomplete_beta(a, b, x, 1.0 - x).map(|tails| tails.lower)
}

/// The regularized lower incomplete gamma function `P(a, x)` (scipy's
/// `gammainc`), for `a > 0` and `x ≥ 0`.
pub fn regularized_lower_gamma(a: f64, x: f64) -> Option<f64> {
    gamma_domain(a, x)?;
    incomplete_gamma(a, x).map(|tails| tails.lower)
}

/// The regularized upper incomplete gamma function `Q(a, x) = 1 − P(a, x)`
/// (scipy's `gammaincc`), for `a > 0` and `x ≥ 0`.
pub fn regularized_upper_gamma(a: f64, x: f64) -> Option<f64> {
    gamma_domain(a, x)?;
    incomplete_gamma(a, x).map(|tails| tails.upper)
}

fn gamma_domain(a: f64, x: f64) -> Option<()> {
    (is_positive(a) && x >= 0.0 && x.is_finite()).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_quantile_inverts_the_cdf() {
        for p in [
            1e-300,
            1e-20,
            1e-5,
            0.025,
            0.3,
            0.5,
            0.7,
            0.975,
            1.0 - 1e-12,
        ] {
            let Some(z) = normal_quantile(p) else {
                panic!("p = {p}")
            };
            let Some(back) = normal_cdf(z) else {
                panic!("z = {z}")
            };
            assert!(
                (back - p).abs() <= 1e-13 * p.min(1.0 - p),
                "p = {p}: {back}"
            );
        }
        assert_eq!(normal_quantile(0.0), None);
        assert_eq!(normal_quantile(1.0), None);
        assert_eq!(normal_quantile(f64::NAN), None);
    }

    #[test]
    fn the_t_quantile_inverts_the_cdf() {
        for df in [1.0, 2.5, 30.0, 1e6] {
            for p in [1e-10, 0.025, 0.4, 0.975, 0.999_999] {
                let Some(t) = student_t_quantile(p, df) else {
                    panic!("p = {p}, df = {df}")
                };
                let Some(back) = student_t_cdf(t, df) else {
                    panic!("t = {t}")
                };
                assert!(
                    (back - p).abs() <= 1e-12 * p.min(1.0 - p),
                    "p = {p}, df = {df}: {back}"
                );
            }
        }
    }
}
