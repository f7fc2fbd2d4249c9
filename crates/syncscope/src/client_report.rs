//! The `client_latency` report of the native dialect (docs/PROTOCOL.md, *Client
//! latency*): what the server asks of a page in its subscribe acks, and what a report
//! must look like to be taken.
//!
//! Why a module of its own, at the bottom of the stack: the dialect announces the
//! opt-in in its acks and the inspector reads the reports; both need the same limits,
//! and neither may depend on the other for them. A report comes from a client and is
//! never trusted: anything not of the documented shape is refused whole, with a
//! sentence saying what is wrong, and its size is bounded.

use serde_json::{json, Value};

/// The event a page reports its round trips with.
pub const EVENT: &str = "client_latency";

/// What the server asks of a reporting page, sent in every subscribe ack as
/// `clientLatency` (the opt-in): report at most once per `interval` ms, with at most
/// `samples` round trips per report.
pub const REPORT_INTERVAL_MS: u64 = 1000;
pub const MAX_REPORT_SAMPLES: usize = 200;

/// The longest round trip taken, in ms: a report with more is not a measurement.
pub const MAX_ROUND_TRIP_MS: f64 = 600_000.0;

/// The `clientLatency` of a subscribe ack: the server takes reports, and how.
pub fn opt_in() -> Value {
    json!({ "interval": REPORT_INTERVAL_MS, "samples": MAX_REPORT_SAMPLES })
}

/// The CRUD methods a page measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Create,
    Read,
    Update,
    Patch,
    Delete,
}

impl Op {
    pub const ALL: [Op; 5] = [Op::Create, Op::Read, Op::Update, Op::Patch, Op::Delete];

    pub fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Read => "read",
            Op::Update => "update",
            Op::Patch => "patch",
            Op::Delete => "delete",
        }
    }

    fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// One round trip of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundTrip {
    pub op: Op,
    pub us: u64,
}

/// Why a report was ignored. Each says what a valid report looks like.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReportError {
    #[error("a client_latency report is one object {{samples: {{OP: [ms, …]}}}}; got {0}")]
    NotAnObject(&'static str),
    #[error("a client_latency report needs `samples`, an object of round trips per method ({{\"update\": [12.5, 30]}})")]
    NoSamples,
    #[error("`samples` of a client_latency report names {0:?}; the methods measured are create, read, update, patch and delete")]
    UnknownOp(String),
    #[error("`samples.{0}` of a client_latency report must be a list of round trips in ms")]
    NotAList(String),
    #[error("`samples.{op}[{index}]` of a client_latency report is not a round trip: give a number of ms from 0 to {MAX_ROUND_TRIP_MS}")]
    NotARoundTrip { op: String, index: usize },
    #[error("a client_latency report holds at most {limit} round trips; this one has {count}: send them in several reports")]
    TooMany { count: usize, limit: usize },
}

/// Reads a report, or says why it is ignored.
pub fn parse_report(arg: &Value) -> Result<Vec<RoundTrip>, ReportError> {
    let Value::Object(report) = arg else {
        return Err(ReportError::NotAnObject(kind_of(arg)));
    };
    let Some(Value::Object(samples)) = report.get("samples") else {
        return Err(ReportError::NoSamples);
    };
    let count: usize = samples
        .values()
        .map(|v| v.as_array().map_or(0, Vec::len))
        .sum();
    if count > MAX_REPORT_SAMPLES {
        return Err(ReportError::TooMany {
            count,
            limit: MAX_REPORT_SAMPLES,
        });
    }
    let mut trips = Vec::with_capacity(count);
    for (name, list) in samples {
        let Some(op) = Op::parse(name) else {
            return Err(ReportError::UnknownOp(name.chars().take(40).collect()));
        };
        let Value::Array(list) = list else {
            return Err(ReportError::NotAList(op.name().into()));
        };
        for (index, ms) in list.iter().enumerate() {
            match ms.as_f64() {
                Some(ms) if ms.is_finite() && (0.0..=MAX_ROUND_TRIP_MS).contains(&ms) => {
                    trips.push(RoundTrip {
                        op,
                        us: (ms * 1000.0).round() as u64,
                    });
                }
                _ => {
                    return Err(ReportError::NotARoundTrip {
                        op: op.name().into(),
                        index,
                    })
                }
            }
        }
    }
    Ok(trips)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_of_round_trips_per_method_is_read_in_microseconds() {
        let trips = parse_report(&json!({"samples": {"update": [12.5, 400], "create": []}}))
            .expect("a valid report");
        assert_eq!(
            trips,
            vec![
                RoundTrip {
                    op: Op::Update,
                    us: 12_500
                },
                RoundTrip {
                    op: Op::Update,
                    us: 400_000
                },
            ]
        );
    }

    #[test]
    fn every_malformed_report_says_what_is_wrong() {
        let cases = [
            (json!("x"), ReportError::NotAnObject("a string")),
            (json!({}), ReportError::NoSamples),
            (json!({"samples": [1]}), ReportError::NoSamples),
            (
                json!({"samples": {"subscribe": [1]}}),
                ReportError::UnknownOp("subscribe".into()),
            ),
            (
                json!({"samples": {"read": 5}}),
                ReportError::NotAList("read".into()),
            ),
            (
                json!({"samples": {"read": [1, -2]}}),
                ReportError::NotARoundTrip {
                    op: "read".into(),
                    index: 1,
                },
            ),
            (
                json!({"samples": {"read": ["7"]}}),
                ReportError::NotARoundTrip {
                    op: "read".into(),
                    index: 0,
                },
            ),
            (
                json!({"samples": {"read": [1e12]}}),
                ReportError::NotARoundTrip {
                    op: "read".into(),
                    index: 0,
                },
            ),
            (
                json!({"samples": {"read": vec![1; MAX_REPORT_SAMPLES + 1]}}),
                ReportError::TooMany {
                    count: MAX_REPORT_SAMPLES + 1,
                    limit: MAX_REPORT_SAMPLES,
                },
            ),
        ];
        for (report, want) in cases {
            assert_eq!(parse_report(&report), Err(want), "{report}");
        }
    }
}
