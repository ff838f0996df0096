//! The schema the bindings load (Python and the VS Code extension) is this crate's file
//! descriptor set, byte for byte: a change to `tether/v1/*.proto` must be followed by
//! `cargo xtask schema` and a commit of the file.

#[test]
fn the_committed_schema_is_the_compiled_one() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bindings/python/src/tether/_proto/tether_v1.binpb"
    );
    let committed = std::fs::read(path).expect("the committed schema exists");
    assert!(
        committed == tether_proto::pb::FILE_DESCRIPTOR_SET,
        "{path} differs from proto/tether/v1 ({} bytes committed, {} compiled): run `cargo xtask schema` and commit it",
        committed.len(),
        tether_proto::pb::FILE_DESCRIPTOR_SET.len()
    );
}
