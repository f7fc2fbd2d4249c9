//! The fuzzers' corpus, replayed as a normal test: every seed and every crash the
//! fuzzer found (fuzz/corpus/TARGET/, a crash kept as `crash-*` once fixed) goes
//! through the same harness the fuzz target calls (syncscope::untrusted_input), so a
//! fixed crash stays fixed on stable Rust, without libFuzzer. The bad-input fixtures
//! and the replay fixtures are fed through it too.

use std::path::{Path, PathBuf};

use syncscope::untrusted_input::{self, Dispatcher};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The files of fuzz/corpus/TARGET; the test fails when there are none (a renamed
/// folder would otherwise pass for a clean run).
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = repo().join("fuzz/corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

/// Runs `check` on each input, naming the file whose input panicked.
fn each(target: &str, inputs: Vec<(String, Vec<u8>)>, check: impl Fn(&[u8])) -> usize {
    let n = inputs.len();
    for (name, data) in inputs {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&data)));
        if let Err(panic) = outcome {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("fuzz/corpus/{target}/{name} fails: {why}");
        }
    }
    eprintln!("{target}: {n} inputs");
    n
}

/// The bad-input corpus's requests, as the `["event", arg]` payloads the fuzzer sees.
fn bad_input_requests() -> Vec<(String, Vec<u8>)> {
    let text = std::fs::read_to_string(repo().join("fixtures/bad-input/requests.ndjson")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let case: serde_json::Value = serde_json::from_str(line).unwrap();
            let payload = serde_json::json!([case["event"], case["arg"]]);
            (
                format!("fixtures/bad-input/requests.ndjson line {}", i + 1),
                payload.to_string().into_bytes(),
            )
        })
        .collect()
}

#[test]
fn every_url_of_the_corpus_is_refused_or_normalised_for_good() {
    each("url", corpus("url"), untrusted_input::url);
}

#[test]
fn every_request_of_the_corpus_is_answered_without_an_internal_error() {
    let server = Dispatcher::new();
    let mut inputs = corpus("request");
    inputs.extend(bad_input_requests());
    let n = each("request", inputs, |data| {
        untrusted_input::request(data);
        server.event(data);
    });
    assert!(n > 40, "only {n} requests");
}

#[test]
fn every_session_file_and_har_of_the_corpus_is_read_or_refused() {
    let mut inputs = corpus("session_file");
    for entry in std::fs::read_dir(repo().join("fixtures/replay")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.display().to_string();
        inputs.push((name, std::fs::read(&path).unwrap()));
    }
    each("session_file", inputs, |data| {
        untrusted_input::session_file(data);
        untrusted_input::har(data);
    });
}

#[test]
fn every_control_message_of_the_corpus_is_carried_out_without_an_internal_error() {
    let server = Dispatcher::new();
    each("control", corpus("control"), |data| server.control(data));
}
