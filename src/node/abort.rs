//! The `signal` option. index.js listens for the caller's `AbortSignal` (`addEventListener`,
//! removed when the call settles) and passes Rust an interrupt handle (`newInterrupt()` in
//! lib.rs) that it raises on abort; Rust never holds the JS object.

use crate::run::Interrupt;
use napi::bindgen_prelude::{External, FromNapiValue};
use napi::sys;

/// What a `signal` option carries into Rust: the interrupt that ends the call's wait (and
/// stops the command `runLocked` runs, as Node's `child_process` does with SIGTERM).
pub struct Abort(pub Interrupt);

impl FromNapiValue for Abort {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let handle = unsafe { <&External<Interrupt>>::from_napi_value(env, value) }?;
        Ok(Abort(Interrupt::clone(handle)))
    }
}
