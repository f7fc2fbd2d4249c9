//! What a build does when a browser file it must embed is missing.
//!
//! An installed copy must never depend on a checkout's node_modules, so a release build
//! refuses to build without every file, naming the command that makes them. A debug build
//! keeps going and serves 503 with that command instead, so `cargo test` still runs on a
//! machine that has not run `npm ci` yet (development only; `make dist` builds release).
//!
//! build.rs includes this file with `#[path]` and the crate compiles it for its unit tests,
//! so the refusal is tested without running a release build. It uses std only for that.

/// A file the build wanted to embed and did not find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingFile {
    /// The URL path the server would serve it under.
    pub route: String,
    /// The file, relative to the repository root.
    pub file: String,
}

/// The command that produces a missing file, for the error and for the 503 page.
pub fn remedy(file: &str) -> &'static str {
    if file.starts_with("ui/") {
        "npm --prefix ui ci && npm --prefix ui run build"
    } else if file.starts_with("node_modules/") {
        "npm ci"
    } else {
        // client/ and fixtures/ are committed: a missing one is a damaged checkout.
        "git checkout -- client fixtures"
    }
}

/// Whether the build may go on without `missing`: Ok with one warning per file (debug),
/// or Err with the whole refusal (release).
pub fn check(profile: &str, missing: &[MissingFile]) -> Result<Vec<String>, String> {
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    if profile != "release" {
        return Ok(missing
            .iter()
            .map(|m| {
                format!(
                    "{} is missing: {} will answer 503 until you run `{}` and rebuild",
                    m.file,
                    m.route,
                    remedy(&m.file)
                )
            })
            .collect());
    }
    let mut remedies: Vec<&str> = missing.iter().map(|m| remedy(&m.file)).collect();
    remedies.sort_unstable();
    remedies.dedup();
    let mut msg =
        String::from("a release build embeds every browser file, and these are missing:\n");
    for m in missing {
        msg.push_str(&format!("  {} (served as {})\n", m.file, m.route));
    }
    msg.push_str("Run, in the repository root, then build again:\n");
    for r in remedies {
        msg.push_str(&format!("  {r}\n"));
    }
    Err(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(route: &str, file: &str) -> MissingFile {
        MissingFile {
            route: route.into(),
            file: file.into(),
        }
    }

    #[test]
    fn a_release_build_refuses_and_names_what_to_run() {
        let err = check(
            "release",
            &[
                missing(
                    "/socket.io/socket.io.js",
                    "node_modules/socket.io-client/dist/socket.io.js",
                ),
                missing("/_syncscope/ui/index.html", "ui/dist/index.html"),
            ],
        )
        .unwrap_err();
        assert!(
            err.contains("node_modules/socket.io-client/dist/socket.io.js"),
            "{err}"
        );
        assert!(err.contains("ui/dist/index.html"), "{err}");
        assert!(err.contains("npm ci"), "{err}");
        assert!(err.contains("npm --prefix ui run build"), "{err}");
    }

    #[test]
    fn a_debug_build_goes_on_with_a_warning_per_file() {
        let warnings = check(
            "debug",
            &[missing(
                "/vendor/backbone.js",
                "node_modules/backbone/backbone.js",
            )],
        )
        .unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("503"), "{}", warnings[0]);
        assert!(warnings[0].contains("`npm ci`"), "{}", warnings[0]);
    }

    #[test]
    fn a_complete_release_build_goes_on() {
        assert_eq!(check("release", &[]), Ok(Vec::new()));
    }
}
