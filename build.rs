fn main() {
    napi_build::setup();
    fold_identical_code();
}

/// The release addon on linux-x64-gnu is linked by rust-lld, which can fold functions whose
/// code is identical (generic instantiations often are): a smaller addon (README, Benchmark).
/// Other targets keep their linker's defaults (GNU ld and ld64 have no such flag).
fn fold_identical_code() {
    let release = std::env::var("PROFILE").is_ok_and(|profile| profile == "release");
    let target = std::env::var("TARGET").unwrap_or_default();
    if release && target == "x86_64-unknown-linux-gnu" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,--icf=all");
    }
}
