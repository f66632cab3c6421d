//! The page, rendered on the server with maud (which escapes every value it interpolates: a
//! meta of `<script>` arrives as text). The same `board` fragment is the body of the first
//! answer and of every live update, so there is one template and no client-side rendering.

use crate::human_time::{ago, clock};
use crate::jobs::DEFAULT_WINDOW;
use crate::model::{Job, Lock};
use crate::ops::board::{Board, EnvCard, EnvState, JobsOf};
use maud::{html, Markup, DOCTYPE};

pub const STYLESHEET: &str = include_str!("assets/page.css");
pub const SCRIPT: &str = include_str!("assets/page.js");

/// Where the assets are, relative to the page, so the server can sit under a path prefix.
pub const STYLESHEET_PATH: &str = "assets/page.css";
pub const SCRIPT_PATH: &str = "assets/page.js";

/// The whole page.
pub fn document(board: &Board, store: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(&title(board), html! {
                link rel="stylesheet" href=(STYLESHEET_PATH);
                script src=(SCRIPT_PATH) defer {}
            }))
            body {
                header.top {
                    div.brand {
                        h1 { "daplaya" }
                        p.tagline { "deploy locks" }
                    }
                    p.status role="status" {
                        span #live .live hidden { "live" }
                        " updated "
                        (moment_clock(board.read_at, board.read_at, "updated"))
                    }
                }
                main #board {
                    (fragment(board))
                }
                footer {
                    p { "Read-only: locks change from the CLI, the Node API or Slack, never from this page." }
                    p { "Store: " (store) " · " a href="api/locks" { "JSON" } }
                }
            }
        }
    }
}

/// The part of the page that changes: sent again on every live update.
pub fn fragment(board: &Board) -> Markup {
    let now = board.read_at;
    let held = board.held().count();
    let uber = board.held().filter(|c| c.lock.uberlock).count();
    let recent = board.envs.len() - held;
    html! {
        p.summary data-title=(title(board)) {
            strong { (held) } " held"
            @if uber > 0 { " · " strong { (uber) } " uberlocked" }
            " · " strong { (recent) } " released or expired in the last 24 hours"
        }
        section aria-labelledby="envs-title" {
            h2 #envs-title { "Environments" }
            @if board.envs.is_empty() {
                p.empty { "No env is held, and none was in the last 24 hours." }
            } @else {
                ul.cards {
                    @for card in &board.envs { (env_card(card, now)) }
                }
            }
        }
        section aria-labelledby="jobs-title" {
            h2 #jobs-title { "Running jobs" }
            @if board.jobs.is_empty() {
                p.empty {
                    "No jobname chosen: start the server with "
                    code { "--jobname <JOBNAME>" }
                    " or add "
                    code { "?jobname=<JOBNAME>" }
                    " to this page's address."
                }
            } @else {
                div.jobnames {
                    @for jobs in &board.jobs { (jobs_of(jobs, now)) }
                }
            }
        }
    }
}

fn title(board: &Board) -> String {
    format!("daplaya · {} held", board.held().count())
}

fn env_card(card: &EnvCard, now: i64) -> Markup {
    let lock = &card.lock;
    let (class, badge) = match card.state {
        EnvState::Held if lock.uberlock => ("card held uber", "Uberlock"),
        EnvState::Held => ("card held", "Held"),
        EnvState::Expired => ("card ended", "Lease expired"),
        EnvState::Released => ("card ended", "Released"),
    };
    let held = card.state == EnvState::Held;
    html! {
        li class=(class) data-env=(lock.env) {
            article {
                header {
                    h3 { (lock.env) }
                    span.badge { (badge) }
                }
                dl {
                    div { dt { @if held { "Holder" } @else { "Last holder" } } dd.user { (lock.user) } }
                    div { dt { "Since" } dd { (moment(now, lock.created_at)) } }
                    @match card.state {
                        EnvState::Held => div {
                            dt { "Expires" }
                            dd { @match lock.expires_at {
                                Some(at) => (moment(now, at)),
                                None => "never (uberlock)",
                            } }
                        },
                        EnvState::Expired | EnvState::Released => div {
                            dt { @if card.state == EnvState::Expired { "Expired" } @else { "Released" } }
                            dd { @if let Some(at) = card.ended_at() { (moment(now, at)) } }
                        },
                    }
                    div { dt { "Meta" } dd.meta { (meta(lock)) } }
                    div { dt { "Fencing token" } dd { (lock.fencing_token) } }
                    @if held && !lock.queue.is_empty() {
                        div.line {
                            dt { "Waiting" }
                            dd { ol {
                                @for waiter in &lock.queue {
                                    li {
                                        span.user { (waiter.user) }
                                        " since " (moment(now, waiter.joined_at))
                                        @if waiter.supersede { " (supersede)" }
                                    }
                                }
                            } }
                        }
                    }
                }
            }
        }
    }
}

/// A meta that is an http(s) URL becomes a link; anything else is text.
fn meta(lock: &Lock) -> Markup {
    let text = lock.meta.as_str();
    let is_url = (text.starts_with("https://") || text.starts_with("http://"))
        && !text.chars().any(char::is_whitespace);
    html! {
        @if is_url { a href=(text) rel="noopener noreferrer" { (text) } } @else { (text) }
    }
}

fn jobs_of(of: &JobsOf, now: i64) -> Markup {
    let window = crate::duration::humanize(DEFAULT_WINDOW);
    html! {
        article.jobs data-jobname=(of.jobname) {
            h3 { (of.jobname) }
            (job_table(&format!("Running, started in the last {window}"), &of.jobs.active, now))
            @if !of.jobs.skipped.is_empty() {
                (job_table(&format!("Skipped in the last {window}"), &of.jobs.skipped, now))
            }
        }
    }
}

fn job_table(caption: &str, jobs: &[Job], now: i64) -> Markup {
    html! {
        @if jobs.is_empty() {
            p.empty { (caption) ": none." }
        } @else {
            table {
                caption { (caption) }
                thead { tr { th scope="col" { "Version" } th scope="col" { "User" } th scope="col" { "Started" } } }
                tbody {
                    @for job in jobs {
                        tr {
                            td { code { (job.version) } }
                            td { (job.user) }
                            td { (moment(now, job.started)) }
                        }
                    }
                }
            }
        }
    }
}

/// `12m ago · 14:02:11`: relative, then the wall-clock time (the server's zone; the script
/// rewrites it in the reader's).
fn moment(now: i64, at: i64) -> Markup {
    html! { (ago(now, at)) " · " (moment_clock(now, at, "")) }
}

fn moment_clock(now: i64, at: i64, id: &str) -> Markup {
    let iso = chrono::DateTime::from_timestamp_millis(at)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    html! {
        time id=[(!id.is_empty()).then_some(id)] datetime=(iso) data-at=(at) { (clock(now, at)) }
    }
}

/// The answer to a refused page request.
pub fn unauthorized() -> Markup {
    notice(
        "Token needed",
        html! {
            "Open this page once with " code { "?token=<DAPLAYA_DASHBOARD_TOKEN>" }
            " (it then remembers you), or send " code { "Authorization: Bearer <token>" } "."
        },
    )
}

/// The page when the board could not be read.
pub fn problem(message: &str) -> Markup {
    notice("The store could not be read", html! { (message) })
}

fn head(title: &str, assets: Markup) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light dark";
            title { (title) }
            (assets)
        }
    }
}

fn notice(heading: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            // No stylesheet: it is behind the token too, and this page may be the refusal.
            (head(&format!("daplaya · {heading}"), html! {}))
            body {
                header.top { div.brand { h1 { "daplaya" } } }
                main { h2 { (heading) } p { (body) } }
            }
        }
    }
}

/// For tests and the bench: the page as a string.
pub fn render(board: &Board, store: &str) -> String {
    document(board, store).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::Overview;

    const NOW: i64 = 1_795_435_200_000;

    fn lock(env: &str, meta: &str, uberlock: bool) -> Lock {
        Lock {
            id: "id".into(),
            user: "alice@example.com".into(),
            holder: "alice@example.com".into(),
            env: env.into(),
            created_at: NOW - 12 * 60_000,
            updated_at: NOW - 60_000,
            active: true,
            uberlock,
            meta: meta.into(),
            expires_at: (!uberlock).then_some(NOW + 8 * 60_000),
            fencing_token: 42,
            acquisitions: 42,
            revision: 3,
            queue: vec![],
            next_ticket: 0,
        }
    }

    fn board(envs: Vec<EnvCard>) -> Board {
        Board {
            read_at: NOW,
            envs,
            jobs: vec![],
        }
    }

    fn held(lock: Lock) -> EnvCard {
        EnvCard {
            lock,
            state: EnvState::Held,
        }
    }

    #[test]
    fn what_a_user_typed_is_shown_as_text() {
        let page = render(
            &board(vec![held(lock(
                "prod",
                "<script>alert('x')</script> & \"more\"",
                false,
            ))]),
            "sqlite:/tmp/<x>.db",
        );
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; &quot;more&quot;"));
        assert!(page.contains("sqlite:/tmp/&lt;x&gt;.db"));
    }

    #[test]
    fn a_held_card_lists_its_line_in_order() {
        let waiter = |user: &str, supersede: bool| crate::model::Waiter {
            id: user.into(),
            ticket: 1,
            user: user.into(),
            meta: "CLI".into(),
            joined_at: NOW - 30_000,
            seen_at: NOW,
            stale_after: 2_000,
            supersede,
            envs: vec!["prod".into()],
        };
        let mut waited = lock("prod", "m", false);
        waited.queue = vec![waiter("bob", false), waiter("<carol>", true)];
        let page = render(&board(vec![held(waited)]), "s");
        let line = page.split("<dt>Waiting</dt>").nth(1).expect("a line");
        let bob = line.find("bob").expect("bob");
        let carol = line.find("&lt;carol&gt;").expect("carol, escaped");
        assert!(bob < carol, "{line}");
        assert!(line.contains("(supersede)"));
        assert!(!render(&board(vec![held(lock("prod", "m", false))]), "s").contains("Waiting"));
    }

    #[test]
    fn a_url_meta_is_a_link_and_nothing_else_is() {
        let link = render(
            &board(vec![held(lock(
                "prod",
                "https://ci/jobs/42?a=1&b=2",
                false,
            ))]),
            "s",
        );
        assert!(
            link.contains(r#"<a href="https://ci/jobs/42?a=1&amp;b=2" rel="noopener noreferrer">"#)
        );
        for text in ["javascript:alert(1)", "INC-42", "https://ci/a b"] {
            let page = render(&board(vec![held(lock("prod", text, false))]), "s");
            assert!(!page.contains("<a href=\"javascript"), "{page}");
            assert!(!page.contains("rel=\"noopener noreferrer\""), "{text}");
        }
    }

    #[test]
    fn a_held_lock_shows_holder_since_expiry_and_an_uberlock_is_marked() {
        let page = render(
            &board(vec![
                held(lock("prod", "INC-42", true)),
                held(lock("staging", "CLI", false)),
            ]),
            "s",
        );
        assert!(page.contains("<title>daplaya · 2 held</title>"));
        assert!(page.contains(r#"<li class="card held uber" data-env="prod">"#));
        assert!(page.contains(r#"<span class="badge">Uberlock</span>"#));
        assert!(page.contains("never (uberlock)"));
        assert!(page.contains("alice@example.com"));
        assert!(page.contains("12m ago · <time datetime=\"2026-11-23T11:48:00Z\""));
        assert!(page.contains("in 8m · <time datetime=\"2026-11-23T12:08:00Z\""));
    }

    #[test]
    fn ended_locks_say_when_they_ended_and_jobs_are_listed_by_jobname() {
        let released = EnvCard {
            lock: Lock {
                active: false,
                ..lock("qa", "CLI", false)
            },
            state: EnvState::Released,
        };
        let mut board = board(vec![released]);
        board.jobs = vec![JobsOf {
            jobname: "deploy-prod".into(),
            jobs: Overview {
                active: vec![Job {
                    id: "j".into(),
                    user: "bob".into(),
                    jobname: "deploy-prod".into(),
                    version: "v1.2.3".into(),
                    started: NOW - 120_000,
                    ended: None,
                    skipped: false,
                }],
                skipped: vec![],
            },
        }];
        let page = render(&board, "s");
        assert!(page.contains("<dt>Last holder</dt>"));
        assert!(page.contains("<dt>Released</dt><dd>1m ago"));
        assert!(page.contains(r#"<article class="jobs" data-jobname="deploy-prod">"#));
        assert!(page.contains("<code>v1.2.3</code>"));
        assert!(page.contains("2m ago"));
    }
}
