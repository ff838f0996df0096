//! Checks of the archive and what lies beside it: its files, the sums, the manifests, the
//! completion script, the man pages and the launchd agent.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;
use tether_cli::service::{Origin, Service, Socket, launchd};

use super::{Artefacts, Verdict, proc, require};
use crate::dist::{self, VERSION, archive_name};

const QUICK: Duration = Duration::from_secs(30);

/// What every archive holds, under its top folder.
const EXPECTED: [&str; 16] = [
    "bin/tether",
    "bin/tetherd",
    "bin/tether-testkit",
    "bin/kubectl-tether -> tether",
    "share/man/man1/tether.1",
    "share/man/man1/tether-forward.1",
    "share/man/man1/tether-daemon-install.1",
    "share/man/man1/tetherd.1",
    "share/bash-completion/completions/tether",
    "share/zsh/site-functions/_tether",
    "share/fish/vendor_completions.d/tether.fish",
    "share/tether/systemd/tetherd.socket",
    "share/tether/systemd/tetherd.service",
    "share/tether/launchd/dev.tether.tetherd.plist",
    "LICENSE",
    "README.md",
];

/// Unpacks `archive` into `dir`; the top folder.
pub fn unpack(archive: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let file = std::fs::File::open(archive)?;
    tar::Archive::new(flate2::read::GzDecoder::new(file))
        .unpack(dir)
        .with_context(|| format!("failed to unpack {}", archive.display()))?;
    let top = archive.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".tar.gz"));
    Ok(dir.join(top.context("an archive named NAME.tar.gz")?))
}

/// The archive lists what a release ships, all under one top folder, and its `tether` runs,
/// also through the plugin link.
pub fn archive(a: &Artefacts) -> anyhow::Result<Verdict> {
    let listed = dist::list_archive(&a.built.archive)?;
    let top = archive_name(&a.built.target);
    let outside: Vec<&String> = listed.iter().filter(|p| !p.starts_with(&top)).collect();
    anyhow::ensure!(outside.is_empty(), "entries outside {top}/: {outside:?}");
    for want in EXPECTED {
        let path = format!("{top}/{want}");
        anyhow::ensure!(listed.contains(&path), "{path} is not in the archive: {listed:#?}");
    }
    for bin in ["tether", "kubectl-tether"] {
        let out =
            proc::success(Command::new(a.tree.join("bin").join(bin)).arg("--version"), QUICK)?;
        anyhow::ensure!(out.contains(VERSION), "{bin} --version said {out:?}");
    }
    Ok(Verdict::Pass)
}

/// `sha256sum -c SHA256SUMS` in `target/dist` passes, and the file names the archive (and the
/// package).
pub fn sums(a: &Artefacts) -> anyhow::Result<Verdict> {
    // macOS has shasum, not sha256sum.
    let (tool, args) = if cfg!(target_os = "macos") {
        ("shasum", &["-a", "256", "-c", dist::SUMS][..])
    } else {
        ("sha256sum", &["-c", dist::SUMS][..])
    };
    let tool = require!(tool, "coreutils");
    let dir = dist::out_dir(&a.root);
    let out = proc::success(Command::new(tool).args(args).current_dir(&dir), QUICK)?;
    let mut files = vec![&a.built.archive];
    files.extend(&a.deb);
    for file in files {
        let name = file.file_name().and_then(|n| n.to_str()).context("a file name")?;
        anyhow::ensure!(out.contains(&format!("{name}: OK")), "{name} is not checked: {out}");
    }
    Ok(Verdict::Pass)
}

/// The krew manifest names the archive with its sum and files that are in it; the formula
/// names the archive with its sum, has a `service do` block, and installs files that are in it
/// (every path its `install` lines name, read from the rendered formula).
pub fn manifests(a: &Artefacts) -> anyhow::Result<Verdict> {
    let dir = dist::out_dir(&a.root);
    let name = a.built.archive.file_name().and_then(|n| n.to_str()).context("a file name")?;
    let sums = dist::checksums(&dir)?;
    let sum = sums.iter().find(|(n, _)| n == name).map(|(_, s)| s).context("the archive's sum")?;
    let krew: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("tether.yaml"))?)?;
    anyhow::ensure!(
        krew["spec"]["version"].as_str() == Some(&format!("v{VERSION}")),
        "krew version"
    );
    let platforms = krew["spec"]["platforms"].as_sequence().context("krew platforms")?;
    let ours = platforms
        .iter()
        .find(|p| p["uri"].as_str().is_some_and(|u| u.ends_with(name)))
        .context("no krew platform names the archive")?;
    anyhow::ensure!(ours["sha256"].as_str() == Some(sum.as_str()), "the krew sum differs");
    let parent = a.tree.parent().context("the tree has a parent")?;
    for file in ours["files"].as_sequence().context("krew files")? {
        let from = file["from"].as_str().context("a krew file's from")?;
        anyhow::ensure!(
            parent.join(from).exists(),
            "krew copies {from}, which is not in the archive"
        );
    }
    let brew = std::fs::read_to_string(dir.join("tether.rb"))?;
    for want in [format!("/{name}\""), format!("sha256 \"{sum}\""), "service do".into()] {
        anyhow::ensure!(brew.contains(&want), "the formula lacks {want:?}");
    }
    let installed = brew_installs(&brew)?;
    anyhow::ensure!(!installed.is_empty(), "the formula installs nothing:\n{brew}");
    for source in installed {
        match source {
            Source::Path(path) => anyhow::ensure!(
                a.tree.join(&path).exists(),
                "the formula installs {path}, which is not in the archive"
            ),
            Source::Glob { dir, suffix } => {
                let found = std::fs::read_dir(a.tree.join(&dir))
                    .with_context(|| {
                        format!("the formula installs from {dir}/, not in the archive")
                    })?
                    .filter_map(Result::ok)
                    .any(|e| e.file_name().to_str().is_some_and(|n| n.ends_with(&suffix)));
                anyhow::ensure!(found, "the formula installs {dir}/*{suffix}, none in the archive");
            }
        }
    }
    Ok(Verdict::Pass)
}

/// What a formula's `install` takes from the archive.
#[derive(Debug, PartialEq, Eq)]
enum Source {
    /// A file or folder: `bin.install "bin/tether"`.
    Path(String),
    /// The files of a folder whose names end alike: `man1.install Dir["share/man/man1/*.1"]`.
    Glob { dir: String, suffix: String },
}

/// The paths the formula's `*.install` lines take from the archive: each quoted argument (the
/// source of a `"from" => "to"` rename), and each `Dir["DIR/*SUFFIX"]`. An argument of another
/// form fails, so that nothing the formula installs goes unchecked.
fn brew_installs(formula: &str) -> anyhow::Result<Vec<Source>> {
    let mut sources = Vec::new();
    for line in formula.lines() {
        let Some((_, args)) = line.split_once(".install ") else { continue };
        for arg in args.split(',') {
            let from = arg.split("=>").next().unwrap_or_default().trim();
            if let Some(quoted) = from.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
                sources.push(Source::Path(quoted.to_owned()));
            } else if let Some(glob) =
                from.strip_prefix("Dir[\"").and_then(|f| f.strip_suffix("\"]"))
            {
                let wild = |s: &str| s.contains(['*', '?', '[', '{']);
                let (dir, name) = glob.rsplit_once('/').unwrap_or((".", glob));
                let suffix = name.strip_prefix('*').filter(|s| !wild(s) && !wild(dir));
                let suffix =
                    suffix.with_context(|| format!("a glob the check does not know: {glob}"))?;
                sources.push(Source::Glob { dir: dir.to_owned(), suffix: suffix.to_owned() });
            } else {
                anyhow::bail!("an install argument the check does not know: {line:?}");
            }
        }
    }
    Ok(sources)
}

/// `bash -n` accepts the completion script and sourcing it registers `tether`; every man page
/// renders with groff without a warning, and `man -l` shows tether's (on macOS, whose `man` is
/// mandoc's, `mandoc` renders tether's).
pub fn docs(a: &Artefacts) -> anyhow::Result<Verdict> {
    let bash = require!("bash", "bash");
    let script = a.tree.join("share/bash-completion/completions/tether");
    proc::success(Command::new(&bash).arg("-n").arg(&script), QUICK)?;
    let source = r#"source "$1" && complete -p tether"#;
    let registered =
        proc::success(Command::new(&bash).args(["-c", source, "-"]).arg(&script), QUICK)?;
    anyhow::ensure!(registered.contains("tether"), "sourcing the script registered {registered:?}");
    let tether_page = a.tree.join("share/man/man1/tether.1");
    if cfg!(target_os = "macos") {
        let mandoc = require!("mandoc", "mandoc");
        let shown = proc::success(Command::new(mandoc).arg("-Tutf8").arg(&tether_page), QUICK)?;
        anyhow::ensure!(shown.contains("NAME") && shown.contains("daemon"), "mandoc:\n{shown}");
        return Ok(Verdict::Pass);
    }
    let groff = require!("groff", "groff-base");
    let man = require!("man", "man-db");
    let pages = std::fs::read_dir(a.tree.join("share/man/man1"))?;
    let mut count = 0;
    for page in pages {
        let page = page?.path();
        let out = proc::output(
            Command::new(&groff).args(["-man", "-Tutf8", "-ww", "-z"]).arg(&page),
            QUICK,
        )?;
        let warnings = String::from_utf8_lossy(&out.stderr);
        anyhow::ensure!(
            out.status.success() && warnings.is_empty(),
            "{}: {warnings}",
            page.display()
        );
        count += 1;
    }
    anyhow::ensure!(count >= 10, "only {count} man pages");
    let shown = proc::success(
        Command::new(man).arg("-l").arg(&tether_page).env("MANPAGER", "cat").env("MANWIDTH", "100"),
        QUICK,
    )?;
    for want in ["NAME", "tether", "daemon", "Exit codes"] {
        anyhow::ensure!(shown.contains(want), "`man -l tether.1` lacks {want:?}:\n{shown}");
    }
    Ok(Verdict::Pass)
}

/// Python's plistlib reads the archive's agent, and one as `tether daemon install` writes it.
pub fn plist(a: &Artefacts) -> anyhow::Result<Verdict> {
    let python = require!("python3", "python3");
    let installing = Service {
        tetherd: a.tree.join("bin/tetherd"),
        socket: Socket::Path("/Users/me/.local/state/tether/run/tetherd.sock".into()),
        env: vec![("PATH".into(), "/opt/a&b/bin:/usr/bin".into())],
        origin: Origin::Install,
    };
    let written = a.scratch.join("installed.plist");
    std::fs::write(&written, launchd::render(&installing)?)?;
    let read = "import plistlib, sys\n\
                d = plistlib.load(open(sys.argv[1], 'rb'))\n\
                print(d['Label'], d['ProgramArguments'][1:], d['EnvironmentVariables'].get('PATH'))";
    let packaged = a.tree.join("share/tether/launchd/dev.tether.tetherd.plist");
    let out = proc::success(Command::new(&python).arg("-c").arg(read).arg(&packaged), QUICK)?;
    anyhow::ensure!(
        out.trim() == "dev.tether.tetherd ['--log-file'] None",
        "the packaged agent: {out}"
    );
    let out = proc::success(Command::new(&python).arg("-c").arg(read).arg(&written), QUICK)?;
    let want = "dev.tether.tetherd ['--socket', '/Users/me/.local/state/tether/run/tetherd.sock', \
                '--log-file'] /opt/a&b/bin:/usr/bin";
    anyhow::ensure!(out.trim() == want, "the installed agent: {out}");
    Ok(Verdict::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_formula_s_install_sources_are_found() {
        let formula = "  def install\n    bin.install \"bin/tether\", \"bin/tetherd\"\n    \
                       bin.install_symlink \"tether\" => \"kubectl-tether\"\n    \
                       man1.install Dir[\"share/man/man1/*.1\"]\n    \
                       zsh_completion.install \"share/zsh/_tether\" => \"_tether\"\n  end\n";
        let want = vec![
            Source::Path("bin/tether".into()),
            Source::Path("bin/tetherd".into()),
            Source::Glob { dir: "share/man/man1".into(), suffix: ".1".into() },
            Source::Path("share/zsh/_tether".into()),
        ];
        assert_eq!(brew_installs(formula).expect("parsed"), want);
        assert!(brew_installs("    pkgshare.install buildpath/\"x\"\n").is_err());
        assert!(brew_installs("    man1.install Dir[\"share/**/*.1\"]\n").is_err());
    }
}
