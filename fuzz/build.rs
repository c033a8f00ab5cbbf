// cli.rs embeds the commit (`carrack --version`); the fuzz build has no use for it.
fn main() {
    println!("cargo:rustc-env=CARRACK_COMMIT=fuzz");
}
