//! What a panic does to the broker: it ends the whole process.
//!
//! A panic on one core used to kill only that core's executor (or be
//! caught inside glommio): the process kept its ports and accepted
//! connections that nobody served, and SIGTERM no longer stopped it, so no
//! supervisor restarted it. A broker that cannot serve every partition must
//! stop, loudly, so that systemd (`Restart=on-failure`) brings it back: what
//! was acknowledged is on disk, and recovery makes the rest consistent.

use std::sync::OnceLock;

/// The exit status of a broker that panicked (Rust's own for a panic in
/// `main`): non-zero, so `Restart=on-failure` restarts it.
pub const PANIC_EXIT_CODE: i32 = 101;

/// Debug builds only: a produce to the topic named by this variable (read
/// once, at the first produce) panics on the core that owns the partition,
/// so tests can show what a panic does to a running broker.
pub const DEBUG_PANIC_TOPIC_ENV: &str = "SHARDLOG_DEBUG_PANIC_ON_PRODUCE_TO";

/// Makes any panic, on any thread, log one clear line and exit the process
/// with [`PANIC_EXIT_CODE`]. The default hook still prints the message (and
/// a backtrace, with `RUST_BACKTRACE`) first. For the `serve` command: a
/// program that embeds the broker chooses its own policy.
pub fn exit_process_on_panic() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        let thread = std::thread::current();
        let location = info
            .location()
            .map_or_else(|| "an unknown place".to_string(), ToString::to_string);
        tracing::error!(
            thread = thread.name().unwrap_or("unnamed"),
            %location,
            exit_code = PANIC_EXIT_CODE,
            "panic: the broker exits so that its supervisor restarts it"
        );
        std::process::exit(PANIC_EXIT_CODE);
    }));
}

/// In debug builds, panics if `topic` is the one [`DEBUG_PANIC_TOPIC_ENV`]
/// names; compiled out of release builds.
pub fn debug_panic_on_produce(topic: &str) {
    if cfg!(debug_assertions) {
        static TOPIC: OnceLock<Option<String>> = OnceLock::new();
        let armed = TOPIC.get_or_init(|| std::env::var(DEBUG_PANIC_TOPIC_ENV).ok());
        if armed.as_deref() == Some(topic) {
            panic!("{DEBUG_PANIC_TOPIC_ENV}: a produce to {topic:?} (a test's panic)");
        }
    }
}
