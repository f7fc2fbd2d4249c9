//! Embeds the browser files the server hands to apps: the socket.io-client bundle and the
//! demo's libraries (from node_modules, installed by `npm ci`; never committed), the
//! adapter from client/, the demo app from fixtures/todos/ and the built inspector UI
//! from ui/dist/.
//!
//! A missing file fails a release build, naming what to run; a debug build goes on and the
//! route answers 503 with what to run, so `cargo test` works on a machine that has not run
//! `npm ci` yet (src/embed_check.rs decides, and is unit-tested).
//!
//! It also records the commit the binary is built from (`syncscope --version`).
//!
//! Every path here is relative to the repository, never absolute: clones share one
//! target dir (CI builds incrementally), and Cargo would otherwise keep judging
//! freshness by, and embedding files of, whichever clone built last.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

#[path = "src/embed_check.rs"]
mod embed_check;
use embed_check::MissingFile;

/// The repository root, seen from this package (Cargo runs build scripts there).
const ROOT: &str = "../..";

fn main() {
    commit();
    let mut entries: Vec<(String, String)> = [
        (
            "/socket.io/socket.io.js",
            "node_modules/socket.io-client/dist/socket.io.js",
        ),
        (
            "/socket.io/socket.io.min.js",
            "node_modules/socket.io-client/dist/socket.io.min.js",
        ),
        ("/backbone.realtime.js", "client/backbone.realtime.js"),
        ("/vendor/backbone.js", "node_modules/backbone/backbone.js"),
        (
            "/vendor/underscore.js",
            "node_modules/underscore/underscore-umd.js",
        ),
        (
            "/vendor/jquery.js",
            "node_modules/jquery/dist/jquery.min.js",
        ),
    ]
    .into_iter()
    .map(|(route, file)| (route.to_string(), file.to_string()))
    .collect();
    // The demo app, and the inspector UI as built by `npm run build` in ui/ (absent until
    // then: /_syncscope/ui/ answers 404 and the server still works).
    for (dir, prefix) in [("fixtures/todos", "/demo"), ("ui/dist", "/_syncscope/ui")] {
        collect(dir, dir, prefix, &mut entries);
        watch(dir);
    }
    // Without a UI build there is nothing to list; its index page stands for all of it.
    if !entries
        .iter()
        .any(|(route, _)| route == "/_syncscope/ui/index.html")
    {
        entries.push((
            "/_syncscope/ui/index.html".to_string(),
            "ui/dist/index.html".to_string(),
        ));
    }
    watch("node_modules/socket.io-client/package.json");

    // Each entry embeds the file, or says which command makes it (the 503 page).
    let mut out = String::from("pub static ASSETS: &[(&str, Result<&[u8], &str>)] = &[\n");
    let mut missing = Vec::new();
    for (route, file) in &entries {
        watch(file);
        if Path::new(ROOT).join(file).is_file() {
            out.push_str(&format!(
                "    ({route:?}, Ok(include_bytes!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/{ROOT}/{file}\")))),\n"
            ));
        } else {
            let remedy = embed_check::remedy(file);
            out.push_str(&format!("    ({route:?}, Err({remedy:?})),\n"));
            missing.push(MissingFile {
                route: route.clone(),
                file: file.clone(),
            });
        }
    }
    out.push_str("];\n");
    match embed_check::check(&env::var("PROFILE").unwrap_or_default(), &missing) {
        Ok(warnings) => {
            for w in warnings {
                println!("cargo:warning={w}");
            }
        }
        Err(refusal) => {
            eprintln!("error: {refusal}");
            std::process::exit(1);
        }
    }
    // Written beside and renamed over, never rewritten in place: a target dir copied
    // with hard links (several checkouts sharing one warm build) would otherwise see
    // one checkout's asset paths appear in another's build.
    let out_dir = Path::new(&env::var("OUT_DIR").unwrap()).to_path_buf();
    let staged = out_dir.join("assets.rs.new");
    fs::write(&staged, out).unwrap();
    fs::rename(&staged, out_dir.join("assets.rs")).unwrap();
}

/// Watches a repository path, or its nearest existing parent while it is missing: Cargo
/// reruns a build script on every build when a watched path does not exist.
fn watch(file: &str) {
    let mut path = Path::new(file);
    while !Path::new(ROOT).join(path).exists() {
        match path.parent() {
            Some(parent) => path = parent,
            None => return,
        }
    }
    println!(
        "cargo:rerun-if-changed={}",
        Path::new(ROOT).join(path).display()
    );
}

fn collect(base: &str, dir: &str, prefix: &str, entries: &mut Vec<(String, String)>) {
    let Ok(read) = fs::read_dir(Path::new(ROOT).join(dir)) else {
        return;
    };
    let mut names: Vec<String> = read
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let file = format!("{dir}/{name}");
        if Path::new(ROOT).join(&file).is_dir() {
            collect(base, &file, prefix, entries);
        } else {
            let rel = &file[base.len() + 1..];
            entries.push((format!("{prefix}/{rel}"), file));
        }
    }
}

/// Sets SYNCSCOPE_COMMIT to the short hash of the checkout's HEAD, or to "unknown" outside
/// a git checkout (a source tarball); a SYNCSCOPE_COMMIT in the environment wins.
fn commit() {
    println!("cargo:rerun-if-env-changed=SYNCSCOPE_COMMIT");
    let commit = env::var("SYNCSCOPE_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=SYNCSCOPE_COMMIT={commit}");
    // Rebuild when HEAD moves: HEAD itself (a checkout) and the branch it names (a commit).
    let mut heads = vec!["HEAD".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        heads.push(branch);
    }
    for head in heads {
        if let Some(path) = git(&["rev-parse", "--git-path", &head]) {
            let path = Path::new(ROOT).join(PathBuf::from(path));
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}

/// One line of git's output, run in the repository; None when git or the checkout is absent.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(ROOT)
        .output()
        .ok()?;
    let line = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !line.is_empty()).then_some(line)
}
