//! Where output goes: results to stdout, progress and errors to stderr, colour only for a
//! terminal that wants it (not with `NO_COLOR` or `TERM=dumb`). While waiting, a terminal gets
//! one status line rewritten in place; a CI log gets a plain line per poll. Write errors (a
//! closed pipe) are ignored: output that nobody reads is not a failure.

use super::render::Style;
use std::io::{IsTerminal, Write};

/// Erases the current terminal line: carriage return, then "erase in line".
const CLEAR_LINE: &str = "\r\x1b[2K";

pub struct Console {
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
    pub out_style: Style,
    pub err_style: Style,
    /// stderr is a terminal: the waiting status is one line rewritten in place.
    live: bool,
    /// `--quiet`: no progress, only results and errors.
    pub quiet: bool,
    status_shown: bool,
}

impl Console {
    pub fn stdio(env: &(dyn Fn(&str) -> Option<String> + Sync)) -> Console {
        // A dumb terminal shows escape codes as text: no colour, and no line rewritten in place.
        let dumb = env("TERM").is_some_and(|term| term == "dumb");
        let no_color = dumb || env("NO_COLOR").is_some_and(|v| !v.is_empty());
        let err_tty = std::io::stderr().is_terminal();
        let mut console = Console::new(Box::new(std::io::stdout()), Box::new(std::io::stderr()));
        console.out_style.color = !no_color && std::io::stdout().is_terminal();
        console.err_style.color = !no_color && err_tty;
        console.live = err_tty && !dumb;
        console
    }

    pub fn new(out: Box<dyn Write + Send>, err: Box<dyn Write + Send>) -> Console {
        Console {
            out,
            err,
            out_style: Style { color: false },
            err_style: Style { color: false },
            live: false,
            quiet: false,
            status_shown: false,
        }
    }

    pub fn out(&mut self, text: &str) {
        self.clear_status();
        let _ = writeln!(self.out, "{text}").and_then(|_| self.out.flush());
    }

    pub fn err(&mut self, text: &str) {
        self.clear_status();
        let _ = writeln!(self.err, "{text}").and_then(|_| self.err.flush());
    }

    /// A progress line, silenced by `--quiet`.
    pub fn progress(&mut self, text: &str) {
        if !self.quiet {
            self.err(text);
        }
    }

    /// While waiting: `live` rewritten in place on a terminal, else `plain` as a new line.
    pub fn waiting(&mut self, live: &str, plain: &str) {
        if self.quiet {
            return;
        }
        if !self.live {
            return self.err(plain);
        }
        let _ = write!(self.err, "{CLEAR_LINE}{live}").and_then(|_| self.err.flush());
        self.status_shown = true;
    }

    fn clear_status(&mut self) {
        if self.status_shown {
            let _ = write!(self.err, "{CLEAR_LINE}").and_then(|_| self.err.flush());
            self.status_shown = false;
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.clear_status();
    }
}
