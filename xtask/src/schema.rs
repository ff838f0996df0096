//! The committed API schema: `tether-proto`'s file descriptor set, byte for byte, which the
//! Python bindings and the VS Code extension load instead of generated code (no protoc).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Where the schema lives in the repository.
pub const SCHEMA: &str = "bindings/python/src/tether/_proto/tether_v1.binpb";

/// The committed schema's path under `root`.
#[must_use]
pub fn path(root: &Path) -> PathBuf {
    root.join(SCHEMA)
}

/// Writes the schema, or with `check` fails when the committed one differs.
pub fn run(root: &Path, check: bool) -> anyhow::Result<()> {
    let path = path(root);
    let want = tether_proto::pb::FILE_DESCRIPTOR_SET;
    let have = std::fs::read(&path).unwrap_or_default();
    if have == want {
        eprintln!("{SCHEMA} is up to date ({} bytes)", want.len());
        return Ok(());
    }
    anyhow::ensure!(!check, "{SCHEMA} differs from proto/; run `cargo xtask schema` and commit it");
    std::fs::write(&path, want).with_context(|| format!("failed to write {}", path.display()))?;
    eprintln!("wrote {SCHEMA} ({} bytes)", want.len());
    Ok(())
}
