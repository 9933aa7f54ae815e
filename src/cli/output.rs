//! Standard output that never panics: `sluice runs | head` closes the pipe early and
//! `> /dev/full` fails every write, after a run may already have committed. `println!` would
//! panic (exit 101 with a backtrace); here a closed pipe ends the output quietly, another
//! failure is said once on stderr, and the command's exit code stays its own.

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write failed: later writes are skipped.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Write `text` and a newline to stdout; `false` once stdout no longer takes output (the
/// caller may stop producing it).
pub fn print_line(text: &str) -> bool {
    if CLOSED.load(Ordering::Relaxed) {
        return false;
    }
    let mut out = std::io::stdout().lock();
    let result = out
        .write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match result {
        Ok(()) => true,
        Err(e) => {
            CLOSED.store(true, Ordering::Relaxed);
            if e.kind() != ErrorKind::BrokenPipe {
                eprintln!("warning: cannot write to standard output: {e}");
            }
            false
        }
    }
}

/// Pretty JSON on stdout; the exit code of a listing command.
pub fn print_json(value: &serde_json::Value) -> u8 {
    print_line(&serde_json::to_string_pretty(value).unwrap_or_default());
    super::EXIT_OK
}

/// `println!` through [`print_line`].
macro_rules! out {
    () => {
        $crate::cli::output::print_line("")
    };
    ($($arg:tt)*) => {
        $crate::cli::output::print_line(&format!($($arg)*))
    };
}
pub(crate) use out;
