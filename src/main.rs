fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE, so `medcoder export | head` would panic on the closed pipe; end quietly
    // as other command-line tools do. Writes to the database are transactions, so nothing is lost.
    // SAFETY: called first thing, before any thread exists; SIG_DFL is a valid disposition.
    #[cfg(unix)]
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    match medcoder::cli::run() {
        Ok(code) => code,
        Err(e) => {
            // Errors quote file contents and arguments: never let them drive the terminal.
            eprintln!("error: {}", medcoder::text::printable(&format!("{e:#}")));
            std::process::ExitCode::from(1)
        }
    }
}
