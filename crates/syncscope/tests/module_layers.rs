//! The core crate's modules form a stack: each uses only modules below it, never one
//! that uses it back, directly or through others (docs/ARCHITECTURE.md, Layers without
//! circles).
//!
//! Why a test: a circle creeps in one convenient `crate::x` at a time, and once there it
//! ties its modules together so that none can be read, tested or moved without the
//! others. This reads src/, builds the graph of the top-level modules by their
//! `crate::x` references (comments, string literals and `#[cfg(test)]` items left out:
//! a test may reach anywhere), and fails naming each circle and the references that
//! close it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One source file of a top-level module.
struct Source {
    /// The top-level module it belongs to: `faults` for src/faults.rs, `inspect` for
    /// every file under src/inspect/.
    module: String,
    /// Its path, as the failure names it.
    path: String,
    text: String,
}

/// Where a module first refers to another.
#[derive(Debug)]
struct Reference {
    path: String,
    line: usize,
}

/// Each module, and for each module it uses, the first place it does.
type Graph = BTreeMap<String, BTreeMap<String, Reference>>;

/// The top-level modules of the crate in `src`: each `x.rs` but the crate roots (lib.rs,
/// main.rs), and each directory with every `.rs` file under it.
fn sources(src: &Path) -> Vec<Source> {
    let mut found = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(src)
        .unwrap_or_else(|e| panic!("{} could not be read: {e}", src.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a file name in UTF-8")
            .to_string();
        if path.is_dir() {
            for file in rs_files(&path) {
                found.push(read(&name, &file));
            }
        } else if let Some(module) = name.strip_suffix(".rs") {
            if module != "lib" && module != "main" {
                found.push(read(module, &path));
            }
        }
    }
    found
}

fn rs_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{} could not be read: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files.extend(rs_files(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            files.push(path);
        }
    }
    files
}

fn read(module: &str, path: &Path) -> Source {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    Source {
        module: module.to_string(),
        path: path
            .strip_prefix(crate_dir)
            .unwrap_or(path)
            .display()
            .to_string(),
        text: std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{} could not be read: {e}", path.display())),
    }
}

/// The graph of `sources`' modules by their `crate::x` references.
fn graph_of(sources: &[Source]) -> Graph {
    let modules: BTreeSet<&str> = sources.iter().map(|s| s.module.as_str()).collect();
    let mut graph: Graph = modules
        .iter()
        .map(|m| (m.to_string(), BTreeMap::new()))
        .collect();
    for source in sources {
        let code = without_tests(&blanked(&source.text));
        for (name, at) in crate_references(&code) {
            if name == source.module || !modules.contains(name.as_str()) {
                continue;
            }
            let line = code[..at].iter().filter(|&&c| c == '\n').count() + 1;
            graph
                .get_mut(&source.module)
                .expect("every module is in the graph")
                .entry(name)
                .or_insert(Reference {
                    path: source.path.clone(),
                    line,
                });
        }
    }
    graph
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `text` with its comments and string and char literals turned to spaces (newlines
/// kept, so that offsets still give lines): a `crate::x` in words is no dependency.
fn blanked(text: &str) -> Vec<char> {
    let c: Vec<char> = text.chars().collect();
    let mut out = c.clone();
    let blank = |out: &mut Vec<char>, from: usize, to: usize| {
        for ch in out.iter_mut().take(to.min(c.len())).skip(from) {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
    };
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let mut i = 0;
    while i < c.len() {
        let prev = if i == 0 { ' ' } else { c[i - 1] };
        if c[i] == '/' && at(i + 1) == '/' {
            let end = (i..c.len()).find(|&j| c[j] == '\n').unwrap_or(c.len());
            blank(&mut out, i, end);
            i = end;
        } else if c[i] == '/' && at(i + 1) == '*' {
            // Block comments nest in Rust.
            let (mut j, mut depth) = (i + 2, 1);
            while j < c.len() && depth > 0 {
                if c[j] == '/' && at(j + 1) == '*' {
                    depth += 1;
                    j += 2;
                } else if c[j] == '*' && at(j + 1) == '/' {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if c[i] == '"' {
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if c[i] == 'r'
            && (!is_ident(prev) || (prev == 'b' && (i < 2 || !is_ident(c[i - 2]))))
            && matches!(at(i + 1), '"' | '#')
        {
            // A raw string: r"…", r#"…"#, br#"…"#.
            let hashes = (i + 1..c.len()).take_while(|&j| c[j] == '#').count();
            if at(i + 1 + hashes) != '"' {
                i += 1;
                continue;
            }
            let mut j = i + 2 + hashes;
            while j < c.len() && !(c[j] == '"' && (1..=hashes).all(|k| at(j + k) == '#')) {
                j += 1;
            }
            blank(&mut out, i, j + 1 + hashes);
            i = j + 1 + hashes;
        } else if c[i] == '\'' && at(i + 1) == '\\' {
            // An escaped char literal: '\'', '\n', '\u{1F600}'.
            let end = (i + 3..c.len()).find(|&j| c[j] == '\'').unwrap_or(c.len());
            blank(&mut out, i, end + 1);
            i = end + 1;
        } else if c[i] == '\'' && at(i + 2) == '\'' {
            // A plain char literal ('"' would otherwise open a string); else a lifetime.
            blank(&mut out, i, i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    out
}

/// `code` (blanked) without its `#[cfg(test)]` items: up to the `;` of an item without a
/// body, or through the closing brace of one with a body. `#![cfg(test)]` drops it all.
fn without_tests(code: &[char]) -> Vec<char> {
    let mut out = code.to_vec();
    let text: String = code.iter().collect();
    if text.contains("#![cfg(test)]") {
        return out
            .iter()
            .map(|&c| if c == '\n' { c } else { ' ' })
            .collect();
    }
    let attr: Vec<char> = "#[cfg(test)]".chars().collect();
    let mut i = 0;
    while i + attr.len() <= code.len() {
        if code[i..i + attr.len()] != attr[..] {
            i += 1;
            continue;
        }
        let mut j = i + attr.len();
        while j < code.len() && code[j] != '{' && code[j] != ';' {
            j += 1;
        }
        if j < code.len() && code[j] == '{' {
            let mut depth = 0;
            while j < code.len() {
                match code[j] {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                j += 1;
            }
        }
        let end = (j + 1).min(code.len());
        for ch in &mut out[i..end] {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
        i = end;
    }
    out
}

/// The modules `code` names after `crate::` (or `$crate::`), with the offset of each
/// reference: `crate::a::b` names a, `crate::{a::b, c}` names a and c.
fn crate_references(code: &[char]) -> Vec<(String, usize)> {
    let skip_space = |mut j: usize| {
        while j < code.len() && code[j].is_whitespace() {
            j += 1;
        }
        j
    };
    let ident_at = |j: usize| {
        let end = (j..code.len())
            .find(|&k| !is_ident(code[k]))
            .unwrap_or(code.len());
        (code[j..end].iter().collect::<String>(), end)
    };
    let word: Vec<char> = "crate".chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i + word.len() <= code.len() {
        let starts = code[i..i + word.len()] == word[..]
            && (i == 0 || !is_ident(code[i - 1]))
            && code.get(i + word.len()).is_none_or(|&c| !is_ident(c));
        if !starts {
            i += 1;
            continue;
        }
        let at = i;
        let mut j = skip_space(i + word.len());
        i += word.len();
        if code.get(j) != Some(&':') || code.get(j + 1) != Some(&':') {
            continue;
        }
        j = skip_space(j + 2);
        if code.get(j) == Some(&'{') {
            // A use group: the first segment of each of its items.
            let mut depth = 0;
            let mut item_start = true;
            while j < code.len() {
                match code[j] {
                    '{' => {
                        depth += 1;
                        item_start = depth == 1;
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => item_start = true,
                    c if item_start && is_ident(c) => {
                        let (name, end) = ident_at(j);
                        found.push((name, at));
                        item_start = false;
                        j = end;
                        continue;
                    }
                    c if !c.is_whitespace() => item_start = false,
                    _ => {}
                }
                j += 1;
            }
            i = j;
        } else if code.get(j).is_some_and(|&c| is_ident(c)) {
            let (name, end) = ident_at(j);
            found.push((name, at));
            i = end;
        }
    }
    found
}

/// The strongly connected components of more than one module (Tarjan), each sorted.
fn circles(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph[v].keys() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                loop {
                    let w = self.stack.pop().expect("v is on the stack");
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found.sort();
    walk.found
}

/// What the test says when there are circles: each, with the references inside it.
fn report(graph: &Graph, circles: &[Vec<String>]) -> String {
    let mut out = format!(
        "the core crate's modules have {} import circle(s); a module may use only modules \
         below it (docs/ARCHITECTURE.md, Layers without circles). Break each one: move the \
         shared types down, pass a function the narrow things it uses instead of the owner \
         (see crate::outbound's Outbound), let the higher layer own the runtime state.\n",
        circles.len()
    );
    for circle in circles {
        out.push_str(&format!("circle: {}\n", circle.join(", ")));
        for from in circle {
            for (to, at) in &graph[from] {
                if circle.contains(to) {
                    out.push_str(&format!("  {from} -> {to}   ({}:{})\n", at.path, at.line));
                }
            }
        }
    }
    out
}

/// The modules by layer, lowest first: a module's layer is one above the highest of
/// those it uses. Only for a graph without circles.
fn layers(graph: &Graph) -> Vec<Vec<String>> {
    fn layer_of<'a>(graph: &'a Graph, m: &'a str, memo: &mut BTreeMap<&'a str, usize>) -> usize {
        if let Some(&l) = memo.get(m) {
            return l;
        }
        let l = graph[m]
            .keys()
            .map(|d| layer_of(graph, d, memo) + 1)
            .max()
            .unwrap_or(0);
        memo.insert(m, l);
        l
    }
    let mut memo = BTreeMap::new();
    let mut out: Vec<Vec<String>> = Vec::new();
    for m in graph.keys() {
        let l = layer_of(graph, m, &mut memo);
        if out.len() <= l {
            out.resize(l + 1, Vec::new());
        }
        out[l].push(m.clone());
    }
    out
}

#[test]
fn core_modules_form_a_stack_without_circles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph_of(&sources(&src));
    // A reader that found nothing would pass vacuously: these references are real.
    for (from, to) in [("sync", "store"), ("sync", "faults"), ("endpoint", "sync")] {
        assert!(
            graph.get(from).is_some_and(|deps| deps.contains_key(to)),
            "the module graph misses {from} -> {to}: the reader of src/ is broken"
        );
    }
    let circles = circles(&graph);
    assert!(circles.is_empty(), "{}", report(&graph, &circles));
    // The stack, top first, for docs/ARCHITECTURE.md (`--nocapture` shows it).
    for (n, layer) in layers(&graph).iter().enumerate().rev() {
        println!("{n:2}: {}", layer.join(" · "));
    }
}

#[test]
fn a_circle_is_named_with_the_references_that_close_it() {
    let source = |module: &str, path: &str, text: &str| Source {
        module: module.into(),
        path: path.into(),
        text: text.into(),
    };
    let sources = [
        source(
            "a",
            "src/a.rs",
            "use crate::b::Thing;\n\
             // crate::c, in a comment\n\
             const S: &str = \"crate::c\";\n\
             #[cfg(test)]\n\
             mod tests { use crate::c::X; }\n",
        ),
        source(
            "b",
            "src/b.rs",
            "use crate::{c::Y, d};\n\
             fn f<'a>(_: &'a str) -> char { '\"' }\n\
             fn g() { crate::a::h(); }\n",
        ),
        source("c", "src/c.rs", "pub struct Y;\n"),
        source("d", "src/d/mod.rs", "mod inner;\n"),
        source(
            "d",
            "src/d/inner.rs",
            "/* crate::a, /* nested */ still a comment */ fn k() { crate::c::z() }\n",
        ),
    ];
    let graph = graph_of(&sources);
    let edges: Vec<(&str, &str)> = graph
        .iter()
        .flat_map(|(from, deps)| deps.keys().map(move |to| (from.as_str(), to.as_str())))
        .collect();
    assert_eq!(
        edges,
        [("a", "b"), ("b", "a"), ("b", "c"), ("b", "d"), ("d", "c")]
    );
    let found = circles(&graph);
    assert_eq!(found, [vec!["a".to_string(), "b".to_string()]]);
    let said = report(&graph, &found);
    assert!(said.contains("circle: a, b"), "{said}");
    assert!(said.contains("a -> b   (src/a.rs:1)"), "{said}");
    assert!(said.contains("b -> a   (src/b.rs:3)"), "{said}");
    assert!(!said.contains("-> c"), "{said}");
}
