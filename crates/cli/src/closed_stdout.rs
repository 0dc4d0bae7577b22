//! A reader that stops reading (`trawl search … | head`) closes the pipe trawl prints to.
//! Rust's `println!` then panics ("failed printing to stdout: Broken pipe"), which would
//! show a panic and a backtrace for what is the reader's ordinary choice. The binaries exit
//! quietly instead, with the status a shell shows for a process ended by SIGPIPE (141).
//! SIGPIPE itself stays ignored (Rust's default), so that writing to a git process or a
//! socket that went away stays an error the code handles rather than a kill.

/// The status a shell reports for a process ended by SIGPIPE (128 + 13).
pub const CLOSED_STDOUT_STATUS: i32 = 141;

/// Installs a panic hook that ends the process with [`CLOSED_STDOUT_STATUS`], silently,
/// when printing to a closed stdout panics; every other panic goes to the previous hook.
pub fn exit_quietly_when_stdout_closes() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if is_closed_stdout(message) {
            std::process::exit(CLOSED_STDOUT_STATUS);
        }
        previous(info)
    }));
}

/// Whether a panic message is `println!`'s on a closed pipe.
fn is_closed_stdout(message: &str) -> bool {
    message.starts_with("failed printing to stdout") && message.contains("Broken pipe")
}

#[cfg(test)]
mod tests {
    use super::is_closed_stdout;

    #[test]
    fn only_a_closed_stdout_is_quiet() {
        assert!(is_closed_stdout(
            "failed printing to stdout: Broken pipe (os error 32)"
        ));
        assert!(!is_closed_stdout(
            "failed printing to stderr: Broken pipe (os error 32)"
        ));
        assert!(!is_closed_stdout("index out of bounds"));
        assert!(!is_closed_stdout(
            "failed printing to stdout: No space left on device"
        ));
    }
}
