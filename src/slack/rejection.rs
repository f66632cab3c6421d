//! Why a request was refused before its command ran, and what the sender is answered.

use super::{signature, HttpResponse};

/// Why a request was refused. The caller sees only the status and a generic word; the reason
/// is for the operator's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    TooLarge,
    Unauthorized(signature::Invalid),
    WrongApp,
    /// A copy of a request acted on already.
    Replayed,
}

impl Rejection {
    pub fn status(self) -> u16 {
        match self {
            Rejection::TooLarge => 413,
            Rejection::Unauthorized(_) => 401,
            Rejection::WrongApp => 403,
            Rejection::Replayed => 409,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Rejection::TooLarge => "the body is larger than 8 KiB",
            Rejection::Unauthorized(invalid) => invalid.reason(),
            Rejection::WrongApp => "api_app_id is not DAPLAYA_SLACK_APP_ID",
            Rejection::Replayed => {
                "its signature was acted on already: a copy of a request is refused, nothing changed"
            }
        }
    }

    pub fn response(self) -> HttpResponse {
        let body = match self {
            Rejection::TooLarge => "payload too large",
            Rejection::Unauthorized(_) => "unauthorized",
            Rejection::WrongApp => "forbidden",
            Rejection::Replayed => "already handled",
        };
        HttpResponse {
            status: self.status(),
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }
}
