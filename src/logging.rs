//! Where the binaries' `tracing` events go: standard error, filtered by
//! `RUST_LOG`, in colour only on a terminal. Log files and journald get
//! plain text, and a non-empty `NO_COLOR` (<https://no-color.org>) turns
//! colour off everywhere. Shared by `shardlog` and the load-test binaries.

use std::ffi::OsStr;
use std::io::IsTerminal;

/// Whether log lines carry ANSI colour codes: only when standard error is
/// a terminal and `NO_COLOR` is unset or empty.
pub fn colour_wanted(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    let no_color_set = no_color.is_some_and(|value| !value.is_empty());
    stderr_is_terminal && !no_color_set
}

/// Installs the global subscriber: events to standard error, filtered by
/// `RUST_LOG`, or by `default_filter` when `RUST_LOG` is unset or invalid.
pub fn init_stderr_logging(default_filter: &str) {
    let no_color = std::env::var_os("NO_COLOR");
    let ansi = colour_wanted(std::io::stderr().is_terminal(), no_color.as_deref());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, None));
        assert!(
            colour_wanted(true, Some(OsStr::new(""))),
            "an empty NO_COLOR is unset"
        );
        assert!(!colour_wanted(true, Some(OsStr::new("1"))));
        assert!(!colour_wanted(false, None), "a file or journald");
        assert!(!colour_wanted(false, Some(OsStr::new("1"))));
    }
}
