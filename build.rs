use std::path::Path;

fn main() {
    napi_build::setup();
    // The release addon on linux-x64-gnu is linked by rust-lld, whose layout flags the other
    // targets' linkers lack (GNU ld, ld64, link.exe): they keep their defaults.
    let release = std::env::var("PROFILE").is_ok_and(|profile| profile == "release");
    let target = std::env::var("TARGET").unwrap_or_default();
    if release && target == "x86_64-unknown-linux-gnu" {
        fold_identical_code();
        place_hot_code_together();
        write_link_map();
    }
}

fn link_arg(arg: &str) {
    println!("cargo:rustc-cdylib-link-arg={arg}");
}

/// rust-lld folds functions whose code is identical (generic instantiations often are): a
/// smaller addon (docs/benchmark.md).
fn fold_identical_code() {
    link_arg("-Wl,--icf=all");
}

/// The functions a CLI run executes, listed in `link/hot-code.txt` (made by
/// `bench/hot-code.js`), go first and together in `.text`. The kernel maps a file's code 64 KiB
/// around each page a process touches, so scattered over the whole addon they made nearly all
/// of it resident; together they are a fraction (docs/benchmark.md). A name the build no longer
/// has is skipped: a stale list only packs less.
fn place_hot_code_together() {
    let list = Path::new(env!("CARGO_MANIFEST_DIR")).join("link/hot-code.txt");
    println!("cargo:rerun-if-changed={}", list.display());
    if list.exists() {
        link_arg(&format!("-Wl,--symbol-ordering-file={}", list.display()));
        link_arg("-Wl,--no-warn-symbol-ordering");
    }
}

/// `DAPLAYA_LINK_MAP=<file>`: where each function landed, which `bench/hot-code.js` needs to
/// name the code a run executes in this stripped addon. Does not change the addon.
fn write_link_map() {
    println!("cargo:rerun-if-env-changed=DAPLAYA_LINK_MAP");
    if let Ok(map) = std::env::var("DAPLAYA_LINK_MAP") {
        link_arg(&format!("-Wl,-Map={map}"));
    }
}
