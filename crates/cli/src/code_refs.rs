//! Finding flag keys in source code (`feature-flags code-refs`).
//!
//! The tree is walked in parallel, respecting `.gitignore` (the `ignore`
//! crate, as ripgrep does); files of the languages flags are used from
//! (Kotlin, Python, Rust, TypeScript and JavaScript, Swift, YAML) are
//! searched for every key at once with one Aho-Corasick automaton, so the
//! cost grows with the size of the tree, not with keys × files. A match
//! counts only as a whole key: not preceded or followed by a letter, digit
//! or `_` (so `checkout` is not found in `new_checkout_v2`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use aho_corasick::{AhoCorasick, MatchKind};

/// File extensions searched.
pub const EXTENSIONS: [&str; 11] = [
    "kt", "kts", "py", "rs", "ts", "tsx", "js", "jsx", "swift", "yaml", "yml",
];

/// Files larger than this are skipped (generated or vendored code).
const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

/// One place a key appears.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Reference {
    /// The file, relative to the scanned root.
    pub path: String,
    /// 1-based.
    pub line: usize,
}

/// What a scan found.
#[derive(Debug, Default, serde::Serialize)]
pub struct Scan {
    /// Files searched.
    pub files_scanned: usize,
    /// Each key found, with its places in path and line order.
    pub references: BTreeMap<String, Vec<Reference>>,
}

/// Searches the tree under `root` for `keys`.
pub fn scan(root: &Path, keys: &[String]) -> Result<Scan, String> {
    if keys.is_empty() {
        return Ok(Scan::default());
    }
    let automaton = AhoCorasick::builder()
        .match_kind(MatchKind::Standard)
        .build(keys)
        .map_err(|e| format!("cannot search for these keys: {e}"))?;
    let found: Mutex<BTreeMap<String, Vec<Reference>>> = Mutex::default();
    let files = AtomicUsize::new(0);
    let walker = ignore::WalkBuilder::new(root).build_parallel();
    walker.run(|| {
        Box::new(|entry| {
            let Ok(entry) = entry else {
                return ignore::WalkState::Continue;
            };
            if !is_source(entry.path())
                || entry.metadata().map_or(true, |m| m.len() > MAX_FILE_BYTES)
            {
                return ignore::WalkState::Continue;
            }
            let Ok(text) = std::fs::read(entry.path()) else {
                return ignore::WalkState::Continue;
            };
            files.fetch_add(1, Ordering::Relaxed);
            let hits = search(&automaton, keys, &text);
            if !hits.is_empty() {
                let path = relative(root, entry.path());
                if let Ok(mut found) = found.lock() {
                    for (key, line) in hits {
                        found.entry(key).or_default().push(Reference {
                            path: path.clone(),
                            line,
                        });
                    }
                }
            }
            ignore::WalkState::Continue
        })
    });
    let mut references = found
        .into_inner()
        .map_err(|_| "a scanning thread failed".to_owned())?;
    for places in references.values_mut() {
        places.sort();
        places.dedup();
    }
    Ok(Scan {
        files_scanned: files.into_inner(),
        references,
    })
}

fn is_source(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e))
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .map_or_else(|_| path.to_path_buf(), PathBuf::from)
        .display()
        .to_string()
}

/// Every whole-key match in `text`: (key, line).
fn search(automaton: &AhoCorasick, keys: &[String], text: &[u8]) -> Vec<(String, usize)> {
    let mut hits = Vec::new();
    let mut line = 1;
    let mut counted_to = 0;
    for found in automaton.find_overlapping_iter(text) {
        let (start, end) = (found.start(), found.end());
        let before = start.checked_sub(1).map(|i| text[i]);
        let after = text.get(end).copied();
        if before.is_some_and(is_key_byte) || after.is_some_and(is_key_byte) {
            continue;
        }
        line += text[counted_to..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        counted_to = start;
        hits.push((keys[found.pattern().as_usize()].clone(), line));
    }
    hits
}

/// Bytes that continue an identifier: a key next to one is part of a longer name.
fn is_key_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_keys_are_found_with_their_lines() {
        let keys = vec![
            "checkout".to_owned(),
            "new_checkout".to_owned(),
            "dark-mode".to_owned(),
        ];
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&keys)
            .unwrap_or_else(|e| panic!("{e}"));
        let text = b"if flags.is_enabled(\"new_checkout\"):\n  pass\nx = get(\"new_checkout_v2\")\ny = 'dark-mode' # checkout\n";
        let hits = search(&automaton, &keys, text);
        assert_eq!(
            hits,
            [
                ("new_checkout".to_owned(), 1),
                ("dark-mode".to_owned(), 4),
                ("checkout".to_owned(), 4)
            ]
        );
    }

    #[test]
    fn a_tree_is_scanned_respecting_gitignore() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let write = |path: &str, text: &str| {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap_or(dir.path()))
                .unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
        };
        std::fs::create_dir_all(dir.path().join(".git")).unwrap_or_else(|e| panic!("{e}"));
        write(".gitignore", "build/\n");
        write(
            "app/Main.kt",
            "val on = client.isEnabled(\"new_checkout\")\n",
        );
        write(
            "api/views.py",
            "\n\nawait flags.is_enabled('new_checkout')\n",
        );
        write("build/generated.kt", "\"new_checkout\"\n");
        write("README.md", "new_checkout\n");
        let scan = scan(
            dir.path(),
            &["new_checkout".to_owned(), "unused".to_owned()],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(scan.files_scanned, 2);
        let places: Vec<(String, usize)> = scan.references["new_checkout"]
            .iter()
            .map(|r| (r.path.clone(), r.line))
            .collect();
        assert_eq!(
            places,
            [
                ("api/views.py".to_owned(), 3),
                ("app/Main.kt".to_owned(), 1)
            ]
        );
        assert!(!scan.references.contains_key("unused"));
    }
}
