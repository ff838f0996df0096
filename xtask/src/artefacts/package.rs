//! Checks of the Debian package: what `dpkg-deb` lists and says, and that the binaries it
//! unpacks run.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{Artefacts, Verdict, proc, require};
use crate::dist::VERSION;

const QUICK: Duration = Duration::from_secs(60);

/// What the package installs (man pages may be compressed).
const EXPECTED: [&str; 11] = [
    "./usr/bin/tether",
    "./usr/bin/tetherd",
    "./usr/bin/tether-testkit",
    "./usr/bin/kubectl-tether -> tether",
    "./usr/lib/systemd/user/tetherd.socket",
    "./usr/lib/systemd/user/tetherd.service",
    "./usr/share/man/man1/tether.1",
    "./usr/share/man/man1/tetherd.1",
    "./usr/share/bash-completion/completions/tether",
    "./usr/share/zsh/vendor-completions/_tether",
    "./usr/share/fish/vendor_completions.d/tether.fish",
];

fn deb(a: &Artefacts) -> Result<&Path, anyhow::Result<Verdict>> {
    a.deb.as_deref().ok_or_else(|| Ok(Verdict::Skip("Debian packages are built on Linux".into())))
}

/// `dpkg-deb -c` lists the expected files; `dpkg-deb -f` names the package and version.
pub fn contents(a: &Artefacts) -> anyhow::Result<Verdict> {
    let deb = match deb(a) {
        Ok(deb) => deb,
        Err(verdict) => return verdict,
    };
    let dpkg_deb = require!("dpkg-deb", "dpkg");
    let listing = proc::success(Command::new(&dpkg_deb).arg("-c").arg(deb), QUICK)?;
    // `-rwxr-xr-x root/root 123 2024-01-01 00:00 ./usr/bin/tether`: the path is the sixth field.
    let paths: Vec<String> = listing
        .lines()
        .map(|line| {
            let path = line.split_whitespace().skip(5).collect::<Vec<_>>().join(" ");
            path.replace(".gz ->", " ->").trim_end_matches(".gz").to_owned()
        })
        .collect();
    for want in EXPECTED {
        anyhow::ensure!(
            paths.iter().any(|p| p == want),
            "{want} is not in the package:\n{listing}"
        );
    }
    let fields = proc::success(
        Command::new(&dpkg_deb).args(["-f"]).arg(deb).args(["Package", "Version"]),
        QUICK,
    )?;
    let want = format!("Package: tether\nVersion: {VERSION}-1");
    anyhow::ensure!(fields.trim() == want, "dpkg-deb -f said {fields:?}");
    Ok(Verdict::Pass)
}

/// The binaries unpacked by `dpkg-deb -x` run `--version` (the plugin link too).
pub fn versions(a: &Artefacts) -> anyhow::Result<Verdict> {
    if let Err(verdict) = deb(a) {
        return verdict;
    }
    let dpkg_deb = require!("dpkg-deb", "dpkg");
    let root = a.deb_tree(&dpkg_deb)?;
    for bin in ["tether", "tetherd", "tether-testkit", "kubectl-tether"] {
        let out =
            proc::success(Command::new(root.join("usr/bin").join(bin)).arg("--version"), QUICK)?;
        anyhow::ensure!(out.contains(VERSION), "{bin} --version said {out:?}");
    }
    Ok(Verdict::Pass)
}
