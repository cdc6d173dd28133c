//! Records which commit the broker was built from, for the
//! `shardlog_build_info` metric (`SHARDLOG_GIT_COMMIT`). The same approach
//! as `loadtest/build.rs`: without git (a source tarball, a build without
//! the `.git` directory) the commit is "unknown", and the build never
//! fails for want of it.

use std::path::Path;
use std::process::Command;

/// Written when git cannot say.
const UNKNOWN: &str = "unknown";

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    Some(String::from_utf8(output.stdout).ok()?.trim().to_string())
}

fn main() {
    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| UNKNOWN.to_string());
    println!("cargo:rustc-env=SHARDLOG_GIT_COMMIT={commit}");

    // Build again when HEAD moves (checkout, commit), and only then: the
    // commit is all this records. In a git worktree HEAD lives in the
    // worktree's git dir and the branch in the common one; `--git-path`
    // resolves both.
    let mut watched = vec!["build.rs".to_string()];
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        watched.push(head);
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(reference) = git(&["rev-parse", "--git-path", &branch]) {
            watched.push(reference);
        }
    }
    if let Some(packed) = git(&["rev-parse", "--git-path", "packed-refs"]) {
        watched.push(packed);
    }
    for path in watched {
        if Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
