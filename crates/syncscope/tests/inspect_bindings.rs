//! The TypeScript bindings in ui/src/bindings/ are generated from the Rust types of the
//! control API and committed; this test fails when they drift.
//! Regenerate with `SYNCSCOPE_WRITE_BINDINGS=1 cargo test -p syncscope --test inspect_bindings`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use syncscope::inspect::bindings;

fn files(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in read.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "ts") {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn committed_bindings_match_the_rust_types() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let committed = root.join(bindings::DIR);
    if std::env::var_os("SYNCSCOPE_WRITE_BINDINGS").is_some() {
        let _ = std::fs::remove_dir_all(&committed);
        bindings::export(&committed).expect("write the bindings");
    }
    let fresh = tempfile::tempdir().unwrap();
    bindings::export(fresh.path()).expect("generate the bindings");
    let want = files(fresh.path());
    let have = files(&committed);
    assert!(!want.is_empty(), "no binding was generated");
    let fix = "run `SYNCSCOPE_WRITE_BINDINGS=1 cargo test -p syncscope --test inspect_bindings` and commit ui/src/bindings/";
    for (name, text) in &want {
        match have.get(name) {
            None => panic!("{} is missing from {}; {fix}", name, bindings::DIR),
            Some(old) => assert_eq!(old, text, "{name} differs from the Rust types; {fix}"),
        }
    }
    for name in have.keys() {
        assert!(
            want.contains_key(name),
            "{name} in {} matches no Rust type any more; {fix}",
            bindings::DIR
        );
    }
}
