//! The fuzz targets on stable Rust: each target of
//! `calimero_client_core::fuzzing` over its committed seed corpus
//! (`fuzz/corpus/<target>/`) and then over inputs from a seeded generator
//! (mutations of the seeds and fresh text from alphabets that matter to
//! the target). Longer runs use cargo-fuzz on nightly (docs/fuzzing.md).
//!
//! `CALIMERO_FUZZ_ITERATIONS` (default 4000) and `CALIMERO_FUZZ_SEED`
//! (default fixed) change the run; a failure prints the seed and input.

use std::path::{Path, PathBuf};

use calimero_client_core::fuzzing::TARGETS;

/// splitmix64: small, seedable, good enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Fragments worth splicing in: id alphabets, URL and path syntax, JSON
/// syntax, unicode, control characters.
const TOKENS: &[&[u8]] = &[
    b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz",
    b"0123456789abcdefABCDEF",
    b"0OIl",
    b"/",
    b"//",
    b".",
    b"..",
    b"%2e",
    b"%2E",
    b"%2f",
    b"%00",
    b"%",
    b"?",
    b"#",
    b"\\",
    b" ",
    b"://",
    b"@",
    b":",
    b"\n",
    b"\0",
    b"\t",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b",",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"1e400",
    b"\\ud800",
    "é€😀".as_bytes(),
    b"\xff\xfe",
    b"http://",
    b"https://x/",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = if seeds.is_empty() || rng.below(4) == 0 {
        Vec::new()
    } else {
        seeds[rng.below(seeds.len())].clone()
    };
    for _ in 0..=rng.below(8) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let end = (at + rng.below(8)).min(data.len());
                data.drain(at..end);
            }
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, token.iter().copied());
            }
            3 => {
                // One character of an alphabet token, as an id would have.
                let token = TOKENS[rng.below(3)];
                data.insert(at, token[rng.below(token.len())]);
            }
            4 if !seeds.is_empty() => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                let to = (from + rng.below(32)).min(other.len());
                data.splice(at..at, other[from..to].iter().copied());
            }
            5 if !data.is_empty() => {
                // A run repeated into a long input, for the length limits
                // and for messages that must stay short.
                let from = rng.below(data.len());
                let run: Vec<u8> = data[from..(from + 1 + rng.below(4)).min(data.len())].to_vec();
                let times = 64 + rng.below(1024);
                let at = from.min(data.len());
                data.splice(at..at, run.iter().copied().cycle().take(run.len() * times));
            }
            _ => data.insert(at, rng.next() as u8),
        }
    }
    data
}

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("entry").path();
            let data = std::fs::read(&path).expect("read seed");
            (path, data)
        })
        .collect();
    files.sort();
    files
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run(target: &str) {
    let (_, body) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("target");
    let seeds = corpus(target);
    assert!(seeds.len() >= 3, "{target}: a seed corpus of a few files");
    for (path, data) in &seeds {
        let outcome = std::panic::catch_unwind(|| body(data));
        assert!(outcome.is_ok(), "{target}: seed {} fails", path.display());
    }
    let seeds: Vec<Vec<u8>> = seeds.into_iter().map(|(_, d)| d).collect();
    let seed = env_number("CALIMERO_FUZZ_SEED", 0x00c0_ffee);
    let iterations = env_number("CALIMERO_FUZZ_ITERATIONS", 4000);
    let mut rng = Rng(seed
        ^ target
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))));
    for i in 0..iterations {
        let data = mutate(&mut rng, &seeds);
        let outcome = std::panic::catch_unwind(|| body(&data));
        assert!(
            outcome.is_ok(),
            "{target}: input {i} (CALIMERO_FUZZ_SEED={seed}) fails: {:?}",
            String::from_utf8_lossy(&data)
        );
    }
}

#[test]
fn ids() {
    run("ids");
}

#[test]
fn raw_path() {
    run("raw_path");
}

#[test]
fn prepare() {
    run("prepare");
}

#[test]
fn json_decode() {
    run("json_decode");
}

#[test]
fn every_target_is_driven() {
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["ids", "raw_path", "prepare", "json_decode"]);
    for name in names {
        let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/fuzz_targets")
            .join(format!("{name}.rs"));
        assert!(bin.exists(), "no cargo-fuzz target {}", bin.display());
    }
}
