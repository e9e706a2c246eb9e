//! Special functions behind the distributions: the log-gamma function and the
//! regularized incomplete beta and gamma functions.
//!
//! Written out rather than taken from a crate (`statrs` would bring `nalgebra`
//! and `rand` along for four functions). Every function here takes arguments
//! its callers have already checked (positive shapes, `x` inside the domain)
//! and returns `None` when a continued fraction or series fails to converge,
//! so that no NaN can leave the crate.
//!
//! The precision that matters is in the tails: a p-value of `1e-12` must come
//! out with most of its digits, so each function returns the lower and the
//! upper tail separately instead of computing one as `1 - other`.

/// Relative precision at which series and continued fractions stop.
const EPSILON: f64 = 1e-16;
/// Replaces a zero denominator in Lentz's method (Numerical Recipes §5.2).
const TINY: f64 = 1e-300;
/// Iterations allowed to a series or continued fraction. The incomplete beta
/// fraction needs about `sqrt(max(a, b))` of them in the worst case (Numerical
/// Recipes §6.4), and a Welch test on a billion users has `a` near 5e8.
const MAX_ITERATIONS: usize = 200_000;
/// ln(2π) / 2.
const HALF_LN_TWO_PI: f64 = 0.918_938_533_204_672_8;
/// From this argument on, the Stirling series below is exact to double
/// precision.
const STIRLING_FROM: f64 = 10.0;

/// A probability and its complement, each computed to full relative
/// precision (`lower + upper == 1` up to rounding).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Tails {
    pub lower: f64,
    pub upper: f64,
}

impl Tails {
    /// From the lower tail; rounding can push a computed tail a hair past 1
    /// (at absurd shapes such as 1e-190), so it is clamped into [0, 1].
    fn from_lower(lower: f64) -> Self {
        let lower = lower.clamp(0.0, 1.0);
        Self {
            lower,
            upper: 1.0 - lower,
        }
    }

    fn is_finite(&self) -> bool {
        self.lower.is_finite() && self.upper.is_finite()
    }

    /// From the upper tail, clamped like [`Tails::from_lower`].
    fn from_upper(upper: f64) -> Self {
        let upper = upper.clamp(0.0, 1.0);
        Self {
            lower: 1.0 - upper,
            upper,
        }
    }
}

/// The remainder of Stirling's series, `ln Γ(x) − [(x − ½) ln x − x + ½ ln 2π]`,
/// for `x ≥ 10`: the asymptotic series with Bernoulli-number coefficients
/// `B₂ₖ / (2k (2k − 1) x²ᵏ⁻¹)` (Abramowitz & Stegun 6.1.40). At `x = 10` the
/// first omitted term is below 1e-17.
fn stirling_remainder(x: f64) -> f64 {
    const COEFFICIENTS: [f64; 7] = [
        1.0 / 12.0,
        -1.0 / 360.0,
        1.0 / 1260.0,
        -1.0 / 1680.0,
        1.0 / 1188.0,
        -691.0 / 360_360.0,
        1.0 / 156.0,
    ];
    let inverse_square = 1.0 / (x * x);
    let series = COEFFICIENTS
        .iter()
        .rev()
        .fold(0.0, |sum, coefficient| sum * inverse_square + coefficient);
    series / x
}

/// `ln Γ(x)` for `x > 0`: Stirling's series from 10 on (A&S 6.1.40), below it
/// the recurrence `Γ(x) = Γ(x + n) / (x (x + 1) … (x + n − 1))` (A&S 6.1.15).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    let mut shifted = x;
    let mut product = 1.0;
    while shifted < STIRLING_FROM {
        product *= shifted;
        shifted += 1.0;
    }
    (shifted - 0.5) * shifted.ln() - shifted + HALF_LN_TWO_PI + stirling_remainder(shifted)
        - product.ln()
}

/// `ln Γ(a + b) − ln Γ(a)` for `a ≥ 10`, without the cancellation of two large
/// logarithms: with Stirling's series for both terms (A&S 6.1.40),
/// `(a − ½) ln(1 + b/a) + b ln(a + b) − b + δ(a + b) − δ(a)`.
fn ln_gamma_ratio_large(a: f64, b: f64) -> f64 {
    (a - 0.5) * (b / a).ln_1p() + b * (a + b).ln() - b + stirling_remainder(a + b)
        - stirling_remainder(a)
}

/// `ln [xᵃ yᵇ / B(a, b)]` with `y = 1 − x` given separately: the factor in
/// front of the incomplete beta continued fraction (Numerical Recipes 6.4.5).
///
/// When `a` and `b` are large the log-gammas are huge and nearly cancel, so
/// the expression is regrouped as in DiDonato & Morris (1992, ACM TOMS 708,
/// function `brcomp`): with `d = x b − y a`,
/// `a ln(1 + d/a) + b ln(1 − d/b) + ½ ln(ab / (a + b)) − ½ ln 2π − δ(a) − δ(b) + δ(a + b)`,
/// where δ is the Stirling remainder.
fn ln_beta_front(a: f64, b: f64, x: f64, y: f64) -> f64 {
    // ln x as ln(1 − y) when x is near 1: `1 − x` has lost digits there and
    // a large exponent would multiply the loss (t-tests on huge samples).
    let ln = |x: f64, y: f64| if x > 0.5 { (-y).ln_1p() } else { x.ln() };
    let (small, large) = if a < b { (a, b) } else { (b, a) };
    if small >= STIRLING_FROM {
        let d = x * b - y * a;
        // a ln(x (a + b)/a) = a ln(1 + d/a): through ln_1p near the mode,
        // where it is small, directly far from it, where 1 + d/a is.
        let term = |shape: f64, offset: f64, value: f64| {
            if (offset / shape).abs() < 0.5 {
                shape * (offset / shape).ln_1p()
            } else {
                shape * (value * (a + b) / shape).ln()
            }
        };
        term(a, d, x) + term(b, -d, y) + 0.5 * (a * b / (a + b)).ln()
            - HALF_LN_TWO_PI
            - stirling_remainder(a)
            - stirling_remainder(b)
            + stirling_remainder(a + b)
    } else if large >= STIRLING_FROM {
        // ln B(a, b) = ln Γ(small) − [ln Γ(large + small) − ln Γ(large)]
        let ln_beta = ln_gamma(small) - ln_gamma_ratio_large(large, small);
        a * ln(x, y) + b * ln(y, x) - ln_beta
    } else {
        a * ln(x, y) + b * ln(y, x) - (ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b))
    }
}

/// The continued fraction for the incomplete beta function,
/// `1 / (1 + d₁/(1 + d₂/(1 + …)))` with
/// `d₂ₘ₊₁ = −(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1))` and
/// `d₂ₘ = m (b − m) x / ((a + 2m − 1)(a + 2m))` (Numerical Recipes, 3rd ed.,
/// §6.4, `betacf`; DLMF 8.17.22), evaluated by the modified Lentz method
/// (NR §5.2).
///
/// It is evaluated in its contracted "odd part" form (L. Lorentzen &
/// H. Waadeland, "Continued Fractions with Applications", 1992, §2.4.2):
/// `1 / (ε₀ − d₁d₂/(d₂ + ε₁ − d₃d₄/(d₄ + ε₂ − …)))` with `εₘ = 1 + d₂ₘ₊₁`.
/// Its values are the same, but the `1 + d₂ₘ₊₁` no longer appear as
/// differences: when `a` is huge and `x` is near 1 (a t-test on millions of
/// users) every `d₂ₘ₊₁` is within 1e-9 of −1, and NR's form loses half of the
/// digits. There `εₘ` is computed from `y = 1 − x` as
/// `(a (1 − b + 2m) + m (2 − b + 3m) + (a + m)(a + b + m) y) / ((a + 2m)(a + 2m + 1))`,
/// the same quantity expanded so that nothing cancels.
fn beta_continued_fraction(a: f64, b: f64, x: f64, y: f64) -> Option<f64> {
    let guard = |value: f64| if value.abs() < TINY { TINY } else { value };
    let odd = |m: f64| -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
    let even = |m: f64| m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
    let epsilon = |m: f64| {
        if x <= 0.5 {
            1.0 + odd(m)
        } else {
            (a * (1.0 - b + 2.0 * m) + m * (2.0 - b + 3.0 * m) + (a + m) * (a + b + m) * y)
                / ((a + 2.0 * m) * (a + 2.0 * m + 1.0))
        }
    };
    let mut value = guard(epsilon(0.0));
    let mut c = value;
    let mut d = 0.0;
    for step in 1..=MAX_ITERATIONS {
        let k = step as f64;
        let numerator = -odd(k - 1.0) * even(k);
        let denominator = even(k) + epsilon(k);
        d = 1.0 / guard(denominator + numerator * d);
        c = guard(denominator + numerator / c);
        let delta = c * d;
        value *= delta;
        if (delta - 1.0).abs() < EPSILON {
            return Some(1.0 / value);
        }
    }
    None
}

/// The regularized incomplete beta function `I_x(a, b)` and its complement
/// `1 − I_x(a, b) = I_y(b, a)`, for `a, b > 0` and `x + y = 1`, `0 ≤ x ≤ 1`.
///
/// Numerical Recipes, 3rd ed., §6.4 (`betai`): the continued fraction is used
/// directly when `x < (a + 1)/(a + b + 2)`, where it converges fast, and
/// through the symmetry `I_x(a, b) = 1 − I_y(b, a)` otherwise. `y` is passed
/// in so that a tail like `t²/(ν + t²)` keeps its digits when it is tiny.
pub(crate) fn incomplete_beta(a: f64, b: f64, x: f64, y: f64) -> Option<Tails> {
    incomplete_beta_unchecked(a, b, x, y).filter(Tails::is_finite)
}

/// [`incomplete_beta`] before the final check: shapes near the top of the
/// double range (1e300) overflow inside the fraction and give NaN.
fn incomplete_beta_unchecked(a: f64, b: f64, x: f64, y: f64) -> Option<Tails> {
    if x <= 0.0 {
        return Some(Tails {
            lower: 0.0,
            upper: 1.0,
        });
    }
    if y <= 0.0 {
        return Some(Tails {
            lower: 1.0,
            upper: 0.0,
        });
    }
    if x * (a + b + 2.0) < a + 1.0 {
        let front = ln_beta_front(a, b, x, y).exp();
        let lower = front * beta_continued_fraction(a, b, x, y)? / a;
        Some(Tails::from_lower(lower))
    } else {
        let front = ln_beta_front(b, a, y, x).exp();
        let upper = front * beta_continued_fraction(b, a, y, x)? / b;
        Some(Tails::from_upper(upper))
    }
}

/// `ln [xᵃ e⁻ˣ / Γ(a)]`, the factor in front of both incomplete gamma
/// expansions (Numerical Recipes 6.2.5 and 6.2.7).
fn ln_gamma_front(a: f64, x: f64) -> f64 {
    a * x.ln() - x - ln_gamma(a)
}

/// The regularized lower and upper incomplete gamma functions `P(a, x)` and
/// `Q(a, x) = 1 − P(a, x)` for `a > 0`, `x ≥ 0`.
///
/// Numerical Recipes, 3rd ed., §6.2 (`gser`, `gcf`): the series
/// `P = front · Σ xⁿ / (a (a + 1) … (a + n))` when `x < a + 1`, otherwise
/// Legendre's continued fraction for `Q` by the modified Lentz method.
pub(crate) fn incomplete_gamma(a: f64, x: f64) -> Option<Tails> {
    incomplete_gamma_unchecked(a, x).filter(Tails::is_finite)
}

/// [`incomplete_gamma`] before the final check (ln Γ(a) overflows for `a`
/// near 1e306).
fn incomplete_gamma_unchecked(a: f64, x: f64) -> Option<Tails> {
    if x <= 0.0 {
        return Some(Tails {
            lower: 0.0,
            upper: 1.0,
        });
    }
    if x < a + 1.0 {
        let mut term = 1.0 / a;
        let mut sum = term;
        let mut denominator = a;
        for _ in 0..MAX_ITERATIONS {
            denominator += 1.0;
            term *= x / denominator;
            sum += term;
            if term.abs() < sum.abs() * EPSILON {
                let lower = sum * ln_gamma_front(a, x).exp();
                return Some(Tails::from_lower(lower));
            }
        }
        None
    } else {
        let guard = |value: f64| if value.abs() < TINY { TINY } else { value };
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut fraction = d;
        for step in 1..=MAX_ITERATIONS {
            let i = step as f64;
            let an = -i * (i - a);
            b += 2.0;
            d = 1.0 / guard(an * d + b);
            c = guard(b + an / c);
            let delta = d * c;
            fraction *= delta;
            if (delta - 1.0).abs() < EPSILON {
                let upper = fraction * ln_gamma_front(a, x).exp();
                return Some(Tails::from_upper(upper));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, relative: f64) -> bool {
        (actual - expected).abs() <= relative * expected.abs()
    }

    #[test]
    fn ln_gamma_of_integers_is_ln_factorial() {
        let mut ln_factorial = 0.0;
        for n in 1..60_u32 {
            // Γ(n) = (n − 1)!; absolute error, as ln Γ crosses zero at 1 and 2.
            let error = (ln_gamma(f64::from(n)) - ln_factorial).abs();
            assert!(error <= 1e-14 * ln_factorial.max(1.0), "n = {n}: {error:e}");
            ln_factorial += f64::from(n).ln();
        }
        // Γ(½) = √π
        assert!(close(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            1e-14
        ));
    }

    #[test]
    fn incomplete_beta_with_a_equal_to_one_is_a_power() {
        // I_x(1, b) = 1 − (1 − x)ᵇ
        let tails = incomplete_beta(1.0, 3.0, 0.2, 0.8);
        let Some(tails) = tails else {
            panic!("converges")
        };
        assert!(close(tails.upper, 0.8_f64.powi(3), 1e-14));
    }

    #[test]
    fn incomplete_gamma_with_a_equal_to_one_is_an_exponential() {
        // Q(1, x) = e⁻ˣ
        for x in [0.1, 1.0, 5.0, 50.0, 700.0] {
            let Some(tails) = incomplete_gamma(1.0, x) else {
                panic!("converges")
            };
            assert!(close(tails.upper, (-x).exp(), 1e-13), "x = {x}");
        }
    }
}
