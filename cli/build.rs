//! `sluice serve` embeds the portal (`portal-static/`): rebuild when any of its files change.

fn main() {
    println!("cargo::rerun-if-changed=../portal-static");
}
