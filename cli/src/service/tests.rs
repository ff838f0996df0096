//! Rendering and plans of both platforms, whatever this one is.

use std::path::{Path, PathBuf};

use super::*;

fn installing(socket: Socket, env: &[(&str, &str)]) -> Service {
    Service {
        tetherd: PathBuf::from("/opt/tether/bin/tetherd"),
        socket,
        env: env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        origin: Origin::Install,
    }
}

#[test]
fn packaged_units_listen_where_clients_look_and_record_nothing() {
    let units = systemd::render(&Service::packaged("/usr/bin/tetherd")).expect("render");
    for line in ["ListenStream=%t/tether/tetherd.sock", "SocketMode=0600", "DirectoryMode=0700"] {
        assert!(units.socket.lines().any(|l| l == line), "{line} in\n{}", units.socket);
    }
    let exec = "ExecStart=/usr/bin/tetherd --socket %t/tether/tetherd.sock";
    assert!(units.service.lines().any(|l| l == exec), "{}", units.service);
    assert!(!units.service.contains("\nEnvironment="), "{}", units.service);
    for text in [&units.socket, &units.service] {
        assert!(!text.contains('@'), "a placeholder is left:\n{text}");
        assert!(!text.contains(MARKER), "a package's unit is not install's:\n{text}");
    }
}

#[test]
fn installed_units_quote_paths_and_escape_specifiers() {
    let service = installing(
        Socket::Path(PathBuf::from("/home/me/my socks/100%.sock")),
        &[("PATH", "/home/me/bin:/usr/bin"), ("KUBECONFIG", "/home/me/a \"b\"\\c%d")],
    );
    let units = systemd::render(&service).expect("render");
    assert!(units.socket.contains("\nListenStream=/home/me/my socks/100%%.sock\n"));
    let exec = "ExecStart=/opt/tether/bin/tetherd --socket \"/home/me/my socks/100%%.sock\"";
    assert!(units.service.lines().any(|l| l == exec), "{}", units.service);
    assert!(units.service.contains("\nEnvironment=\"PATH=/home/me/bin:/usr/bin\"\n"));
    let kubeconfig = r#"Environment="KUBECONFIG=/home/me/a \"b\"\\c%%d""#;
    assert!(units.service.lines().any(|l| l == kubeconfig), "{}", units.service);
    assert!(units.service.contains(MARKER) && units.socket.contains(MARKER));
    let dollar = installing(Socket::Path(PathBuf::from("/s/$HOME.sock")), &[]);
    let units = systemd::render(&dollar).expect("render");
    assert!(units.service.contains("--socket /s/$$HOME.sock\n"), "{}", units.service);
}

#[test]
fn a_line_break_cannot_be_recorded() {
    let service = installing(Socket::Default, &[("PATH", "/bin\n[Service]")]);
    let err = systemd::render(&service).expect_err("line break");
    assert!(err.to_string().starts_with("failed to record PATH"), "{err}");
    assert!(launchd::render(&service).is_err());
}

#[test]
fn the_agent_escapes_xml_and_passes_the_socket_only_when_chosen() {
    let service = installing(Socket::Default, &[("PATH", "/a&b:/usr/bin")]);
    let plist = launchd::render(&service).expect("render");
    assert!(plist.contains("<string>/a&amp;b:/usr/bin</string>"), "{plist}");
    assert!(!plist.contains("--socket") && plist.contains("<string>--log-file</string>"));
    assert!(!plist.contains('@') && plist.contains(MARKER), "{plist}");
    let chosen = installing(Socket::Path(PathBuf::from("/s/<t>.sock")), &[]);
    let plist = launchd::render(&chosen).expect("render");
    assert!(plist.contains("<string>--socket</string>\n    <string>/s/&lt;t&gt;.sock</string>"));
}

#[test]
fn install_writes_then_reloads_enables_and_restarts() {
    let units = systemd::render(&installing(Socket::Default, &[])).expect("render");
    let plan = systemd::install_plan(&units, Path::new("/u"));
    let shown: String = plan.iter().map(ToString::to_string).collect();
    assert!(shown.starts_with("# write /u/tetherd.socket\n# tetherd's socket"), "{shown}");
    let commands: Vec<&str> = shown.lines().filter(|l| l.starts_with("$ ")).collect();
    assert_eq!(
        commands,
        [
            "$ systemctl --user daemon-reload",
            "$ systemctl --user enable tetherd.socket tetherd.service",
            "$ systemctl --user stop tetherd.service",
            "$ systemctl --user restart tetherd.socket",
            "$ systemctl --user start tetherd.service",
        ]
    );
    let plan = launchd::install_plan("<plist/>", Path::new("/L"), 501);
    let shown: String = plan.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        "# write /L/dev.tether.tetherd.plist\n<plist/>\n\
         $ launchctl bootout gui/501/dev.tether.tetherd    # may fail: nothing to undo\n\
         $ launchctl enable gui/501/dev.tether.tetherd\n\
         $ launchctl bootstrap gui/501 /L/dev.tether.tetherd.plist\n"
    );
}

#[test]
fn uninstall_removes_only_what_install_wrote() {
    let dir = tether_testsupport::TempDir::new("service-uninstall");
    let dir = dir.path();
    assert_eq!(systemd::uninstall_plan(dir).expect("plan"), []);
    let units = systemd::render(&installing(Socket::Default, &[])).expect("render");
    std::fs::write(dir.join("tetherd.socket"), &units.socket).expect("write");
    std::fs::write(dir.join("tetherd.service"), &units.service).expect("write");
    let installed = systemd::installed(dir).expect("installed");
    assert!(installed.files.iter().all(|p| is_ours(p)) && installed.files.len() == 2);
    let plan = systemd::uninstall_plan(dir).expect("plan");
    assert!(plan.contains(&Step::Remove { path: dir.join("tetherd.service") }), "{plan:?}");
    assert_eq!(plan.last(), Some(&Step::run("systemctl", &["--user", "daemon-reload"])));

    std::fs::write(dir.join("tetherd.service"), "[Service]\nExecStart=/mine\n").expect("write");
    let err = systemd::uninstall_plan(dir).expect_err("foreign");
    assert!(matches!(err, ServiceError::NotOurs(ref p) if p.ends_with("tetherd.service")), "{err}");
    std::fs::write(dir.join("dev.tether.tetherd.plist"), "<plist/>").expect("write");
    assert!(launchd::uninstall_plan(dir, 501).is_err());
    let plist = launchd::installed(dir).expect("found").files;
    assert!(!plist.iter().any(|p| is_ours(p)));
}

#[test]
fn only_set_variables_are_recorded() {
    let env = Service::recorded_env(|name| match name {
        "PATH" => Some("/bin".into()),
        "KUBECONFIG" => Some(String::new()),
        _ => None,
    });
    assert_eq!(env, [("PATH".to_owned(), "/bin".to_owned())]);
}
