//! The flag page's usage section: evaluations over time per environment
//! (an SVG chart drawn here, no library), the distribution of values and
//! variants, the error rate and when the flag was last evaluated.
//!
//! The numbers come from the API's own code
//! (`GET /api/v1/flags/{flag_id}/metrics`'s [`flag_metrics`], asked for
//! every environment at once: one read of the counts, split per
//! environment), which adds this node's unflushed counts to the store
//! first: what was just evaluated or reported shows at once.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ff_store::Granularity;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::routes::metrics::{MetricsQuery, flag_metrics};
use crate::state::AppState;
use crate::ui::shell::format_time;

/// How often the SDKs report their counts (seconds), for the empty state.
const SDK_REPORT_SECONDS: u32 = 60;
/// Outcomes listed before the rest is summed up as "other".
const MAX_OUTCOMES: usize = 8;

/// A time range the chart can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// The last hour, by minute.
    Hour,
    /// The last day, by hour.
    Day,
    /// The last 30 days, by day.
    Month,
}

impl Range {
    const ALL: [Range; 3] = [Range::Hour, Range::Day, Range::Month];

    /// The range named in the page's `?usage=` (default: the last day).
    pub fn from_query(name: &str) -> Range {
        Range::ALL
            .into_iter()
            .find(|r| r.name() == name)
            .unwrap_or(Range::Day)
    }

    fn name(self) -> &'static str {
        match self {
            Range::Hour => "hour",
            Range::Day => "day",
            Range::Month => "month",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Range::Hour => "Last hour",
            Range::Day => "Last 24 h",
            Range::Month => "Last 30 days",
        }
    }

    fn granularity(self) -> Granularity {
        match self {
            Range::Hour => Granularity::Minute,
            Range::Day => Granularity::Hour,
            Range::Month => Granularity::Day,
        }
    }

    fn buckets(self) -> i64 {
        match self {
            Range::Hour => 60,
            Range::Day => 24,
            Range::Month => 30,
        }
    }

    /// A bucket's start as the axis and the table label it.
    fn bucket_label(self, at: OffsetDateTime) -> String {
        match self {
            Range::Hour | Range::Day => format!("{:02}:{:02}", at.hour(), at.minute()),
            Range::Month => format!("{} {}", month_name(at.month()), at.day()),
        }
    }
}

fn month_name(month: time::Month) -> &'static str {
    use time::Month::*;
    match month {
        January => "Jan",
        February => "Feb",
        March => "Mar",
        April => "Apr",
        May => "May",
        June => "Jun",
        July => "Jul",
        August => "Aug",
        September => "Sep",
        October => "Oct",
        November => "Nov",
        December => "Dec",
    }
}

/// What the usage section shows.
pub struct Usage {
    /// The links to the ranges.
    pub ranges: Vec<RangeLink>,
    /// "Last hour" …
    pub range_label: &'static str,
    /// "minute", "hour" or "day".
    pub unit: &'static str,
    /// Evaluations in the range, every environment.
    pub total: i64,
    /// Of which errors.
    pub errors: i64,
    /// `0.5 %`.
    pub error_rate: String,
    /// When any application last evaluated it (`never`).
    pub last_evaluated: Option<String>,
    /// The chart (empty without evaluations in the range).
    pub chart: String,
    /// One entry per environment, in tree order.
    pub legend: Vec<LegendEntry>,
    /// The chart's numbers, buckets with evaluations only.
    pub rows: Vec<TableRow>,
    /// Values and variants served, most first.
    pub outcomes: Vec<Share>,
    /// Why (OpenFeature reasons), most first.
    pub reasons: Vec<Share>,
    /// How often SDKs report.
    pub report_seconds: u32,
}

/// A link to a range.
pub struct RangeLink {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

/// An environment's line in the chart.
pub struct LegendEntry {
    pub env: String,
    pub total: i64,
    /// `series-0` …: the line's colour and dash pattern.
    pub class: String,
    pub dash: &'static str,
}

/// A bucket of the table under the chart.
pub struct TableRow {
    pub label: String,
    pub counts: Vec<i64>,
}

/// A share of the evaluations.
pub struct Share {
    pub label: String,
    pub count: i64,
    pub percent: String,
    /// As a CSS width.
    pub width: String,
}

/// One environment's answer.
struct Series {
    env: String,
    answer: Value,
}

/// Reads the flag's usage over `range` in every environment through the
/// API's own code, with one read of the counts for all of them.
pub async fn flag_usage(
    state: &AppState,
    principal: &Principal,
    flag_id: &str,
    environments: &[String],
    range: Range,
) -> Result<Usage, ApiError> {
    let granularity = range.granularity();
    let now = state.clock.now();
    let since = now.saturating_sub(time::Duration::seconds(
        range
            .buckets()
            .saturating_sub(1)
            .saturating_mul(granularity.seconds()),
    ));
    let query = MetricsQuery {
        environment: None,
        granularity: Some(granularity.as_str().to_owned()),
        since: Some(since),
        until: Some(now),
    };
    let wanted: Vec<Option<String>> = environments.iter().cloned().map(Some).collect();
    let answers = flag_metrics(state, principal, flag_id, &wanted, &query).await?;
    let series: Vec<Series> = environments
        .iter()
        .zip(answers)
        .map(|(env, answer)| Series {
            env: env.clone(),
            answer,
        })
        .collect();
    Ok(summarise(flag_id, range, &series))
}

fn summarise(flag_id: &str, range: Range, series: &[Series]) -> Usage {
    let mut total = 0i64;
    let mut errors = 0i64;
    let mut outcomes: BTreeMap<String, i64> = BTreeMap::new();
    let mut reasons: BTreeMap<String, i64> = BTreeMap::new();
    let mut last_evaluated = None;
    for s in series {
        let totals = &s.answer["totals"];
        total = total.saturating_add(totals["evaluations"].as_i64().unwrap_or(0));
        errors = errors.saturating_add(totals["errors"].as_i64().unwrap_or(0));
        for (into, field) in [(&mut outcomes, "by_outcome"), (&mut reasons, "by_reason")] {
            if let Some(map) = totals[field].as_object() {
                for (label, count) in map {
                    let sum = into.entry(label.clone()).or_default();
                    *sum = sum.saturating_add(count.as_i64().unwrap_or(0));
                }
            }
        }
        if let Some(at) = s.answer["last_evaluated_at"].as_str() {
            last_evaluated = OffsetDateTime::parse(at, &Rfc3339).ok().map(format_time);
        }
    }
    let starts: Vec<OffsetDateTime> = series
        .first()
        .and_then(|s| s.answer["buckets"].as_array())
        .map(|buckets| {
            buckets
                .iter()
                .filter_map(|b| OffsetDateTime::parse(b["start"].as_str()?, &Rfc3339).ok())
                .collect()
        })
        .unwrap_or_default();
    let counts: Vec<Vec<i64>> = series
        .iter()
        .map(|s| {
            let buckets = s.answer["buckets"].as_array();
            (0..starts.len())
                .map(|i| {
                    buckets
                        .and_then(|b| b.get(i))
                        .and_then(|b| b["evaluations"].as_i64())
                        .unwrap_or(0)
                })
                .collect()
        })
        .collect();
    let legend: Vec<LegendEntry> = series
        .iter()
        .zip(&counts)
        .enumerate()
        .map(|(i, (s, c))| {
            let style = i.checked_rem(DASHES.len()).unwrap_or(0);
            LegendEntry {
                env: s.env.clone(),
                total: c.iter().sum(),
                class: format!("series-{style}"),
                dash: DASHES[style],
            }
        })
        .collect();
    let rows = starts
        .iter()
        .enumerate()
        .filter(|(i, _)| counts.iter().any(|c| c[*i] > 0))
        .map(|(i, start)| TableRow {
            label: range.bucket_label(*start),
            counts: counts.iter().map(|c| c[i]).collect(),
        })
        .collect();
    let chart = if total > 0 {
        chart_svg(range, &starts, &legend, &counts)
    } else {
        String::new()
    };
    Usage {
        ranges: Range::ALL
            .into_iter()
            .map(|r| RangeLink {
                label: r.label(),
                href: format!("/flags/{flag_id}?usage={}#usage", r.name()),
                current: r == range,
            })
            .collect(),
        range_label: range.label(),
        unit: range.granularity().as_str(),
        error_rate: if total > 0 {
            percent(errors, total)
        } else {
            "none".to_owned()
        },
        total,
        errors,
        last_evaluated,
        chart,
        legend,
        rows,
        outcomes: shares(outcomes, total),
        reasons: shares(reasons, total),
        report_seconds: SDK_REPORT_SECONDS,
    }
}

/// `12.5 %` of `whole`.
fn percent(part: i64, whole: i64) -> String {
    let value = part as f64 * 100.0 / whole.max(1) as f64;
    if value == 0.0 || value >= 10.0 || value.fract() == 0.0 {
        format!("{value:.0} %")
    } else {
        format!("{value:.1} %")
    }
}

fn shares(counts: BTreeMap<String, i64>, total: i64) -> Vec<Share> {
    let mut sorted: Vec<(String, i64)> = counts.into_iter().filter(|(_, c)| *c > 0).collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if sorted.len() > MAX_OUTCOMES {
        let rest: i64 = sorted[MAX_OUTCOMES - 1..].iter().map(|(_, c)| c).sum();
        sorted.truncate(MAX_OUTCOMES - 1);
        sorted.push(("(other)".to_owned(), rest));
    }
    sorted
        .into_iter()
        .map(|(label, count)| Share {
            percent: percent(count, total),
            width: format!("{:.1}%", count as f64 * 100.0 / total.max(1) as f64),
            label: if label.is_empty() {
                "(empty)".to_owned()
            } else if ERROR_CODES.contains(&label.as_str()) {
                // The API counts failed evaluations under their error code.
                format!("error: {label}")
            } else {
                label
            },
            count,
        })
        .collect()
}

/// The OpenFeature error codes, which the API's outcomes use for failed
/// evaluations.
const ERROR_CODES: [&str; 6] = [
    "FLAG_NOT_FOUND",
    "TYPE_MISMATCH",
    "TARGETING_KEY_MISSING",
    "INVALID_CONTEXT",
    "PARSE_ERROR",
    "GENERAL",
];

/// The dash patterns of the lines, so that colour is not the only
/// difference between environments.
const DASHES: [&str; 4] = ["", "6 4", "2 3", "10 3 2 3"];

/// The chart's frame (SVG user units; it scales to its box).
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 52.0;
/// The y axis is labelled on both sides: on a phone the chart scrolls
/// sideways and opens on its newest (right) end.
const RIGHT: f64 = 52.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// A line per environment over the buckets, with axes, grid lines and a
/// `<title>` on every point that has evaluations.
fn chart_svg(
    range: Range,
    starts: &[OffsetDateTime],
    legend: &[LegendEntry],
    counts: &[Vec<i64>],
) -> String {
    let n = starts.len().max(1);
    let max = counts.iter().flatten().copied().max().unwrap_or(0);
    let top = nice_ceiling(max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |i: usize| LEFT + (i as f64 + 0.5) * plot_w / n as f64;
    let y = |v: i64| TOP + plot_h - (v as f64 / top as f64) * plot_h;
    let mut svg = String::new();
    let summary: Vec<String> = legend
        .iter()
        .map(|l| format!("{}: {}", l.env, l.total))
        .collect();
    let _ = write!(
        svg,
        "<svg class=\"usage-chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-labelledby=\"usage-chart-title usage-chart-desc\">\
         <title id=\"usage-chart-title\">Evaluations per {} — {} (UTC)</title>\
         <desc id=\"usage-chart-desc\">{}</desc>",
        range.granularity().as_str(),
        range.label().to_lowercase(),
        escape(&summary.join("; ")),
    );
    // Grid lines and the y axis's labels: 0, half, top.
    for value in [0, top / 2, top] {
        let at = y(value);
        let label = compact(value);
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{at:.1}\" y2=\"{at:.1}\"/>\
             <text class=\"axis\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>\
             <text class=\"axis\" x=\"{}\" y=\"{:.1}\" aria-hidden=\"true\">{label}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            at + 4.0,
            WIDTH - RIGHT + 6.0,
            at + 4.0,
        );
    }
    // About six labels on the x axis.
    let every = n.div_ceil(6).max(1);
    for (i, start) in starts.iter().enumerate() {
        if i.is_multiple_of(every) {
            let _ = write!(
                svg,
                "<text class=\"axis\" x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x(i),
                HEIGHT - 8.0,
                range.bucket_label(*start)
            );
        }
    }
    for (entry, values) in legend.iter().zip(counts) {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            svg,
            "<polyline class=\"line {}\" points=\"{}\"{}/>",
            entry.class,
            points.join(" "),
            dash_attribute(entry.dash)
        );
        for (i, v) in values.iter().enumerate() {
            if *v > 0 {
                let _ = write!(
                    svg,
                    "<circle class=\"point {}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\">\
                     <title>{}, {}: {} evaluation{}</title></circle>",
                    entry.class,
                    x(i),
                    y(*v),
                    escape(&entry.env),
                    range.bucket_label(starts[i]),
                    v,
                    if *v == 1 { "" } else { "s" }
                );
            }
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A small inline SVG of a line's pattern, for the legend.
pub fn dash_attribute(dash: &str) -> String {
    if dash.is_empty() {
        String::new()
    } else {
        format!(" stroke-dasharray=\"{dash}\"")
    }
}

/// The smallest 1, 2 or 5 × 10ⁿ at or above `max` (at least 1), and even
/// when above 1, so that half of it is a whole number.
fn nice_ceiling(max: i64) -> i64 {
    let mut step = 1_i64;
    loop {
        for m in [1, 2, 5] {
            let candidate = step.saturating_mul(m);
            if candidate >= max && (candidate == 1 || candidate % 2 == 0) {
                return candidate;
            }
        }
        if step > i64::MAX / 10 {
            return i64::MAX;
        }
        step = step.saturating_mul(10);
    }
}

/// `950`, `12k`, `3.4M`: axis labels.
pub fn compact(value: i64) -> String {
    match value {
        v if v >= 10_000_000 => format!("{}M", v / 1_000_000),
        v if v >= 1_000_000 => format!("{:.1}M", v as f64 / 1_000_000.0),
        v if v >= 10_000 => format!("{}k", v / 1_000),
        v => v.to_string(),
    }
}

/// Text inside SVG markup.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 10);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(42), 50);
        assert_eq!(nice_ceiling(150), 200);
        assert_eq!(compact(12_345), "12k");
        assert_eq!(compact(1_500_000), "1.5M");
    }

    #[test]
    fn shares_are_sorted_and_capped() {
        let counts: BTreeMap<String, i64> = (0..10)
            .map(|i| (format!("v{i}"), i64::from(i) + 1))
            .collect();
        let total: i64 = counts.values().sum();
        let shares = shares(counts, total);
        assert_eq!(shares.len(), MAX_OUTCOMES);
        assert_eq!(shares[0].label, "v9");
        assert_eq!(shares.last().map(|s| s.label.as_str()), Some("(other)"));
        assert_eq!(shares.iter().map(|s| s.count).sum::<i64>(), total);
    }
}
