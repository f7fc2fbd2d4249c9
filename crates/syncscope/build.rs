//! Embeds the browser files the server hands to apps: the socket.io-client bundle and the
//! demo's libraries (from node_modules, installed by `npm ci`; never committed), the
//! adapter from client/, the demo app from fixtures/todos/ and the built inspector UI
//! from ui/dist/.
//!
//! A missing file is not a build failure: the route then answers 503 with what to run,
//! so `cargo test` works on a machine that has not run `npm ci` yet.
//!
//! Every path here is relative to the repository, never absolute: clones share one
//! target dir (CI builds incrementally), and Cargo would otherwise keep judging
//! freshness by, and embedding files of, whichever clone built last.

use std::path::Path;
use std::{env, fs};

/// The repository root, seen from this package (Cargo runs build scripts there).
const ROOT: &str = "../..";

fn main() {
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
    watch("node_modules/socket.io-client/package.json");

    let mut out = String::from("pub static ASSETS: &[(&str, Option<&[u8]>)] = &[\n");
    for (route, file) in &entries {
        watch(file);
        if Path::new(ROOT).join(file).is_file() {
            out.push_str(&format!(
                "    ({route:?}, Some(include_bytes!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/{ROOT}/{file}\")))),\n"
            ));
        } else {
            println!(
                "cargo:warning={file} is missing: {route} will answer 503 until you run `npm ci` and rebuild"
            );
            out.push_str(&format!("    ({route:?}, None),\n"));
        }
    }
    out.push_str("];\n");
    let dest = Path::new(&env::var("OUT_DIR").unwrap()).join("assets.rs");
    fs::write(dest, out).unwrap();
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
