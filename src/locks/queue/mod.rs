//! The queue rules, on rows as read, without a store: an env's line ([`line`]: who is live,
//! who is superseded, the serving order) and what a request does next ([`step`]: take, join,
//! wait, leave).
//!
//! Each env's row keeps its waiters with a ticket from the row's counter. A join writes every
//! env of the request in one transaction, so two requests that share envs got their tickets in
//! the same order on every one of them: the live request that joined first anywhere is first
//! on all its envs, and the line never deadlocks.

pub(super) mod line;
pub(super) mod step;

/// How `locks list` shows a row, for whoever shows rows too.
pub use line::as_listed;
