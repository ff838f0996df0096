//! The `tether-testkit serve` binary: its ready line, and that SIGTERM stops every process it
//! started.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use tether_testsupport::{TempDir, until, wait_child};

/// Processes whose parent is `pid`, from /proc.
fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.to_owned()))
                .and_then(|rest| {
                    rest.split_whitespace().nth(1).and_then(|pp| pp.parse::<u32>().ok())
                })
                == Some(pid)
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

#[test]
fn serve_prints_ready_and_stops_its_processes_on_sigterm() {
    let dir = TempDir::new("testkit-serve");
    let kubeconfig = dir.join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tether-testkit"))
        .args(["serve", "--kubeconfig-out"])
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("ready line");
    let expected = format!("ready kubeconfig={} server=https://127.0.0.1:", kubeconfig.display());
    assert!(line.starts_with(&expected), "{line}");
    assert!(line.trim_end().rsplit(':').next().is_some_and(|p| p.parse::<u16>().is_ok()), "{line}");
    assert!(kubeconfig.is_file());

    // Three pods: two web workloads and the toolbox shell.
    let pods = until(Duration::from_secs(20), "the three pods run", || {
        let pods = children(child.id());
        if pods.len() >= 3 { Ok(pods) } else { Err(pods) }
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid")),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal");
    let status =
        wait_child(&mut child, Duration::from_secs(15)).expect("serve exits after SIGTERM");
    assert!(status.success(), "{status}");
    let left: Vec<u32> = pods.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "pod processes outlived the server: {left:?}");
}
