//! Embeds the browser files the server hands to apps: the socket.io-client bundle and the
//! demo's libraries (from node_modules, installed by `npm ci`; never committed), the
//! adapter from client/ and the demo app from fixtures/todos/.
//!
//! A missing file is not a build failure: the route then answers 503 with what to run,
//! so `cargo test` works on a machine that has not run `npm ci` yet.

use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../..").canonicalize().unwrap();
    let mut entries: Vec<(String, PathBuf)> = vec![
        (
            "/socket.io/socket.io.js".into(),
            root.join("node_modules/socket.io-client/dist/socket.io.js"),
        ),
        (
            "/socket.io/socket.io.min.js".into(),
            root.join("node_modules/socket.io-client/dist/socket.io.min.js"),
        ),
        (
            "/backbone.realtime.js".into(),
            root.join("client/backbone.realtime.js"),
        ),
        (
            "/vendor/backbone.js".into(),
            root.join("node_modules/backbone/backbone.js"),
        ),
        (
            "/vendor/underscore.js".into(),
            root.join("node_modules/underscore/underscore-umd.js"),
        ),
        (
            "/vendor/jquery.js".into(),
            root.join("node_modules/jquery/dist/jquery.min.js"),
        ),
    ];
    // The demo app, and the inspector UI as built by `npm run build` in ui/ (absent until
    // then: /_syncscope/ui/ answers 404 and the server still works).
    for (dir, prefix) in [("fixtures/todos", "/demo"), ("ui/dist", "/_syncscope/ui")] {
        let dir = root.join(dir);
        collect(&dir, &dir, prefix, &mut entries);
        watch(&dir);
    }
    watch(&root.join("node_modules/socket.io-client/package.json"));

    let mut out = String::from("pub static ASSETS: &[(&str, Option<&[u8]>)] = &[\n");
    for (route, path) in &entries {
        watch(path);
        if path.is_file() {
            out.push_str(&format!(
                "    ({route:?}, Some(include_bytes!({:?}))),\n",
                path.display().to_string()
            ));
        } else {
            println!(
                "cargo:warning={} is missing: {route} will answer 503 until you run `npm ci` and rebuild",
                path.display()
            );
            out.push_str(&format!("    ({route:?}, None),\n"));
        }
    }
    out.push_str("];\n");
    let dest = PathBuf::from(env::var("OUT_DIR").unwrap()).join("assets.rs");
    fs::write(dest, out).unwrap();
}

/// Watches a path, or the nearest existing parent while it is missing: Cargo reruns a
/// build script on every build when a watched path does not exist.
fn watch(path: &Path) {
    let mut path = path;
    while !path.exists() {
        match path.parent() {
            Some(parent) => path = parent,
            None => return,
        }
    }
    println!("cargo:rerun-if-changed={}", path.display());
}

fn collect(base: &Path, dir: &Path, prefix: &str, entries: &mut Vec<(String, PathBuf)>) {
    let Ok(read) = fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = read.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect(base, &path, prefix, entries);
        } else {
            let rel = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            entries.push((format!("{prefix}/{rel}"), path));
        }
    }
}
