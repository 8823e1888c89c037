//! The source layout's rules, checked on the source itself: the library never reaches the binary side, its
//! top-level modules form no cycle, it holds no command-line parsing or process exits, and a file over 400 lines
//! says at its top why it stays whole.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// Every library source file (the binary side, `main.rs` and `cli/`, left out), with its text.
fn library_files() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push((path.clone(), std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let mut files = Vec::new();
    walk(Path::new(SRC), &mut files);
    files.retain(|(p, _)| {
        let rel = p.strip_prefix(SRC).unwrap();
        rel != Path::new("main.rs") && !rel.starts_with("cli")
    });
    files
}

/// The top-level module a file belongs to (`server` for src/server/tls.rs and for src/server.rs).
fn top_module(path: &Path) -> String {
    let rel = path.strip_prefix(SRC).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_owned()
}

/// The code of a file without its comments, so prose naming a module is not counted as a dependency.
fn code(text: &str) -> String {
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let tail = &rest[i + "crate::".len()..];
        let name: String = tail.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            found.insert(name);
        }
        rest = tail;
    }
    found
}

#[test]
fn library_modules_form_no_cycle_and_never_reach_the_binary_side() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in library_files() {
        let top = top_module(&path);
        if top == "lib" {
            continue;
        }
        let deps = crate_paths(&code(&text));
        assert!(!deps.contains("cli"), "{} uses the binary side (crate::cli)", path.display());
        graph.entry(top.clone()).or_default().extend(deps.into_iter().filter(|d| *d != top));
    }
    assert!(graph.len() > 10, "the walk found the modules: {graph:?}");

    // Depth-first search; a grey node met again closes a cycle.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) {
        state.insert(node.to_owned(), 1);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let from = stack.iter().position(|s| s == next).unwrap();
                    panic!("module cycle: {} -> {next}", stack[from..].join(" -> "));
                }
                Some(_) => {}
                None => visit(next, graph, state, stack),
            }
        }
        stack.pop();
        state.insert(node.to_owned(), 2);
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if !state.contains_key(node.as_str()) {
            visit(node, &graph, &mut state, &mut Vec::new());
        }
    }
}

#[test]
fn the_library_parses_no_command_line_and_never_exits_the_process() {
    for (path, text) in library_files() {
        let code = code(&text);
        assert!(!code.contains("clap::"), "{} uses clap", path.display());
        assert!(!code.contains("process::exit"), "{} exits the process", path.display());
    }
}

#[test]
fn every_module_says_what_it_owns_and_long_files_say_why() {
    for (path, text) in library_files() {
        assert!(text.starts_with("//!"), "{} does not open with a //! line", path.display());
        let lines = text.lines().count();
        if lines > 420 {
            let header: String = text.lines().take_while(|l| l.starts_with("//!")).collect();
            assert!(header.contains("Over 400 lines"), "{} has {lines} lines and no reason at its top", path.display());
        }
    }
}
