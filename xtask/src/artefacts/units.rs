//! Checks of the systemd user units: `systemd-analyze verify` on the units as `tether daemon
//! install` writes them and as the package ships them, and install, status and uninstall run
//! against a stand-in `systemctl` that records its calls.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;
use tether_cli::service::{Origin, Service, Socket, systemd};

use super::{Artefacts, Verdict, proc, require};

const QUICK: Duration = Duration::from_secs(60);

fn linux_only() -> Option<Verdict> {
    (!cfg!(target_os = "linux")).then(|| Verdict::Skip("systemd units are for Linux".into()))
}

/// The units as `tether daemon install` writes them, as the archive ships them and as the
/// package installs them pass `systemd-analyze --user verify` without a word, their
/// `Documentation=` man pages found in the archive's. Shipped units name `/usr/local/bin` or
/// `/usr/bin`, which verify requires to exist: they are verified with that path pointed at the
/// unpacked binary, the rest byte for byte.
pub fn verify(a: &Artefacts) -> anyhow::Result<Verdict> {
    if let Some(skip) = linux_only() {
        return Ok(skip);
    }
    let analyze = require!("systemd-analyze", "systemd");
    let tetherd = a.tree.join("bin/tetherd");
    // A chosen socket with a space and a `%`, to have systemd parse the quoting; the shipped
    // units below use the default, `%t/tether/tetherd.sock`.
    let service = Service {
        tetherd: tetherd.clone(),
        socket: Socket::Path(a.scratch.join("run dir/100%.sock")),
        env: vec![
            ("PATH".into(), "/opt/google-cloud-sdk/bin:/usr/local/bin:/usr/bin:/bin".into()),
            ("KUBECONFIG".into(), "/home/me/.kube/config:/home/me/.kube/eks 100%.yaml".into()),
        ],
        origin: Origin::Install,
    };
    let units = systemd::render(&service)?;
    let installed = a.scratch.join("units/installed");
    std::fs::create_dir_all(&installed)?;
    std::fs::write(installed.join(systemd::SOCKET_UNIT), &units.socket)?;
    std::fs::write(installed.join(systemd::SERVICE_UNIT), &units.service)?;
    analyze_units(a, &analyze, &installed)?;
    let mut shipped =
        vec![("archive", a.tree.join("share/tether/systemd"), "/usr/local/bin/tetherd")];
    if a.deb.is_some() {
        let dpkg_deb = require!("dpkg-deb", "dpkg");
        let root = a.deb_tree(&dpkg_deb)?;
        shipped.push(("deb", root.join("usr/lib/systemd/user"), "/usr/bin/tetherd"));
    }
    for (label, dir, named) in shipped {
        let copy = a.scratch.join("units").join(label);
        std::fs::create_dir_all(&copy)?;
        std::fs::copy(dir.join(systemd::SOCKET_UNIT), copy.join(systemd::SOCKET_UNIT))?;
        let text = std::fs::read_to_string(dir.join(systemd::SERVICE_UNIT))?;
        let exec = format!("ExecStart={named} --socket %t/tether/tetherd.sock");
        anyhow::ensure!(text.lines().any(|l| l == exec), "the {label}'s service lacks {exec:?}");
        let pointed = text.replace(
            &exec,
            &format!("ExecStart={} --socket %t/tether/tetherd.sock", tetherd.display()),
        );
        std::fs::write(copy.join(systemd::SERVICE_UNIT), pointed)?;
        analyze_units(a, &analyze, &copy).with_context(|| format!("the {label}'s units"))?;
    }
    Ok(Verdict::Pass)
}

/// `systemd-analyze --user verify` of both units in `dir`; fails on any output.
fn analyze_units(a: &Artefacts, analyze: &Path, dir: &Path) -> anyhow::Result<()> {
    let runtime = a.scratch.join("runtime");
    tether_proto::paths::private_dir(&runtime)?;
    let mut command = Command::new(analyze);
    command
        .args(["--user", "verify"])
        .arg(dir.join(systemd::SOCKET_UNIT))
        .arg(dir.join(systemd::SERVICE_UNIT))
        .env("XDG_RUNTIME_DIR", runtime)
        .env("MANPATH", a.tree.join("share/man"));
    let out = proc::output(&mut command, QUICK)?;
    let said = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify {} ({}): {said}",
        dir.display(),
        out.status
    );
    Ok(())
}

/// `tether daemon install --dry-run` prints the units and commands and changes nothing;
/// `install` writes the same units and calls systemctl in order; `status` says they are
/// installed; `uninstall` disables and removes them.
pub fn install(a: &Artefacts) -> anyhow::Result<Verdict> {
    if let Some(skip) = linux_only() {
        return Ok(skip);
    }
    let home = a.scratch.join("home");
    let fake = a.scratch.join("fake-bin");
    let calls = a.scratch.join("systemctl.calls");
    std::fs::create_dir_all(&fake)?;
    write_script(
        &fake.join("systemctl"),
        &format!("#!/bin/sh\necho \"$*\" >> '{}'\n", calls.display()),
    )?;
    let path = std::env::join_paths(
        std::iter::once(fake.clone())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )?;
    let tether = |args: &[&str]| {
        let mut command = Command::new(a.tree.join("bin/tether"));
        command
            .args(args)
            .current_dir(&a.scratch)
            .env("HOME", &home)
            .env("PATH", &path)
            .env("KUBECONFIG", "kube/config")
            .env("XDG_RUNTIME_DIR", a.scratch.join("runtime"))
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("TETHER_SOCKET")
            .env_remove("TETHER_DAEMON_BIN")
            .env_remove("TETHER_STATE_DIR");
        proc::output(&mut command, QUICK)
    };
    let units = home.join(".config/systemd/user");
    let shown = tether(&["daemon", "install", "--dry-run"])?;
    let shown_text = String::from_utf8_lossy(&shown.stdout).into_owned();
    anyhow::ensure!(
        shown.status.success(),
        "install --dry-run: {}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let exec = format!(
        "ExecStart={} --socket %t/tether/tetherd.sock",
        a.tree.join("bin/tetherd").display()
    );
    let kubeconfig =
        format!("Environment=\"KUBECONFIG={}\"", a.scratch.join("kube/config").display());
    for want in [
        format!("# write {}", units.join("tetherd.socket").display()),
        "ListenStream=%t/tether/tetherd.sock".into(),
        exec,
        format!("Environment=\"PATH={}", fake.display()),
        kubeconfig,
        "$ systemctl --user daemon-reload".into(),
    ] {
        anyhow::ensure!(
            shown_text.contains(&want),
            "install --dry-run lacks {want:?}:\n{shown_text}"
        );
    }
    anyhow::ensure!(!units.exists() && !calls.exists(), "--dry-run changed something");

    let done = tether(&["daemon", "install"])?;
    anyhow::ensure!(done.status.success(), "install: {}", String::from_utf8_lossy(&done.stderr));
    for unit in [systemd::SOCKET_UNIT, systemd::SERVICE_UNIT] {
        let text = std::fs::read_to_string(units.join(unit))
            .with_context(|| format!("{unit} was not written"))?;
        anyhow::ensure!(shown_text.contains(&text), "{unit} differs from what --dry-run showed");
    }
    let want_calls = "--user daemon-reload\n--user enable tetherd.socket tetherd.service\n\
                      --user stop tetherd.service\n--user restart tetherd.socket\n--user start tetherd.service\n";
    anyhow::ensure!(
        std::fs::read_to_string(&calls)? == want_calls,
        "systemctl calls: {:?}",
        std::fs::read_to_string(&calls)
    );

    let status = tether(&["daemon", "status"])?;
    let said = String::from_utf8_lossy(&status.stderr);
    anyhow::ensure!(
        status.status.code() == Some(3),
        "status exits 3 when not running: {:?}",
        status.status
    );
    anyhow::ensure!(said.contains("the systemd user service is installed"), "status said: {said}");

    let removed = tether(&["daemon", "uninstall"])?;
    anyhow::ensure!(
        removed.status.success(),
        "uninstall: {}",
        String::from_utf8_lossy(&removed.stderr)
    );
    anyhow::ensure!(!units.join(systemd::SERVICE_UNIT).exists(), "uninstall left the units");
    let log = std::fs::read_to_string(&calls)?;
    anyhow::ensure!(
        log.ends_with(
            "--user disable --now tetherd.socket tetherd.service\n--user daemon-reload\n"
        ),
        "systemctl calls of uninstall: {log}"
    );
    Ok(Verdict::Pass)
}

fn write_script(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}
