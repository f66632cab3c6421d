//! Where output goes: results to stdout, progress and errors to stderr, colour only for a
//! terminal that wants it. Write errors (a closed pipe) are ignored: output that nobody reads
//! is not a failure.

use super::render::Style;
use std::io::{IsTerminal, Write};

pub struct Console {
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
    pub out_style: Style,
    pub err_style: Style,
}

impl Console {
    pub fn stdio(env: &(dyn Fn(&str) -> Option<String> + Sync)) -> Console {
        let no_color = env("NO_COLOR").is_some_and(|v| !v.is_empty());
        Console {
            out_style: Style {
                color: !no_color && std::io::stdout().is_terminal(),
            },
            err_style: Style {
                color: !no_color && std::io::stderr().is_terminal(),
            },
            out: Box::new(std::io::stdout()),
            err: Box::new(std::io::stderr()),
        }
    }

    pub fn new(out: Box<dyn Write + Send>, err: Box<dyn Write + Send>) -> Console {
        Console {
            out,
            err,
            out_style: Style { color: false },
            err_style: Style { color: false },
        }
    }

    pub fn out(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}").and_then(|_| self.out.flush());
    }

    pub fn err(&mut self, text: &str) {
        let _ = writeln!(self.err, "{text}").and_then(|_| self.err.flush());
    }
}
