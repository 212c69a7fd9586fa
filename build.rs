//! Embeds `openapi/openapi.json` without its indentation (about 6 KiB of the bundle's gzip):
//! whitespace outside strings is dropped, nothing else changes (`src/api/openapi.rs`).

use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=openapi/openapi.json");
    let text = fs::read_to_string("openapi/openapi.json").expect("openapi/openapi.json");
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    let dest = Path::new(&env::var("OUT_DIR").expect("OUT_DIR")).join("openapi.min.json");
    fs::write(dest, out).expect("write the compact document");
}
