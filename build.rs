// `sqlx::migrate!` embeds the migration files at compile time; without this, adding one does not
// trigger a rebuild and the binary silently runs the old set.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
