//! Child processes that die with the bench, temp folders that go with it, and what `/proc` and
//! `getrusage` say about CPU time and memory.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// A child in its own process group; SIGTERM then SIGKILL to the whole group on drop.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    name: String,
    exited: Option<ExitStatus>,
}

impl ChildGuard {
    /// Spawns `cmd` as the leader of a new process group.
    pub fn spawn(cmd: &mut Command, name: &str) -> anyhow::Result<Self> {
        let child = cmd
            .process_group(0)
            .spawn()
            .with_context(|| format!("failed to start {name} ({:?})", cmd.get_program()))?;
        Ok(Self { child, name: name.to_owned(), exited: None })
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap_or(i32::MAX)
    }

    /// The child's stdout or stderr pipes, to read its output.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The exit status if the child has exited (reaping it).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }

    /// Waits up to `timeout` for the child to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGTERM to the group, SIGKILL after `grace`, then reaps the child.
    pub fn stop(&mut self, grace: Duration) {
        let group = Pid::from_raw(self.pid());
        if self.exited().is_none() {
            let _sent = killpg(group, Signal::SIGTERM);
            if self.wait_exit(grace).is_none() {
                eprintln!("bench: {} ignored SIGTERM for {grace:?}; killing it", self.name);
            }
        }
        // The leader is gone; its children may not be.
        let _sent = killpg(group, Signal::SIGKILL);
        let _reaped = self.child.kill();
        let _status = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(3));
    }
}

/// A temporary folder removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `$TMPDIR/<prefix>-<pid>-<nanos>`.
    pub fn new(prefix: &str) -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("{prefix}-{}-{nanos:08x}", std::process::id()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("failed to create {}", path.display()))?;
        Ok(Self(path))
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _removed = std::fs::remove_dir_all(&self.0);
    }
}

/// CPU seconds (user + system) of `pid` and every live descendant, including the reaped
/// children each has waited for.
pub fn tree_cpu_seconds(pid: i32) -> anyhow::Result<f64> {
    let procs = all_stats();
    let tree = tree(&procs, pid)?;
    let ticks: u64 = procs.iter().filter(|p| tree.contains(&p.pid)).map(|p| p.ticks).sum();
    Ok(ticks as f64 / clock_ticks())
}

/// Context switches (voluntary and not) of every thread of `pid` and its live descendants.
pub fn tree_context_switches(pid: i32) -> anyhow::Result<u64> {
    let mut total = 0;
    for p in tree(&all_stats(), pid)? {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else { continue };
        for task in tasks.filter_map(Result::ok) {
            let Ok(text) = std::fs::read_to_string(task.path().join("status")) else { continue };
            total += text
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    Ok(total)
}

/// VmRSS of `pid` and every live descendant, in KiB (a wrapper such as the gcloud kubectl
/// dispatcher may run the real program as a child).
pub fn tree_rss_kib(pid: i32) -> anyhow::Result<u64> {
    let tree = tree(&all_stats(), pid)?;
    // A descendant may exit between the listing and the read.
    Ok(tree.iter().filter_map(|&p| rss_kib(p).ok()).sum())
}

/// `pid` and its live descendants.
fn tree(procs: &[Stat], pid: i32) -> anyhow::Result<Vec<i32>> {
    anyhow::ensure!(procs.iter().any(|p| p.pid == pid), "process {pid} is gone");
    let mut tree = vec![pid];
    let mut i = 0;
    while let Some(&parent) = tree.get(i) {
        tree.extend(procs.iter().filter(|p| p.ppid == parent).map(|p| p.pid));
        i += 1;
    }
    Ok(tree)
}

/// This process's CPU seconds (user + system, every thread).
pub fn self_cpu_seconds() -> f64 {
    rusage_seconds(nix::sys::resource::UsageWho::RUSAGE_SELF)
}

/// CPU seconds of every child this process has waited for (user + system).
pub fn children_cpu_seconds() -> f64 {
    rusage_seconds(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
}

fn rusage_seconds(who: nix::sys::resource::UsageWho) -> f64 {
    nix::sys::resource::getrusage(who).map_or(0.0, |u| {
        let (user, sys) = (u.user_time(), u.system_time());
        (user.tv_sec() + sys.tv_sec()) as f64 + (user.tv_usec() + sys.tv_usec()) as f64 / 1e6
    })
}

/// The calling thread's CPU seconds.
pub fn thread_cpu_seconds() -> f64 {
    use nix::time::{ClockId, clock_gettime};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map_or(0.0, |t| t.tv_sec() as f64 + t.tv_nsec() as f64 / 1e9)
}

/// VmRSS of `pid` in KiB.
pub fn rss_kib(pid: i32) -> anyhow::Result<u64> {
    status_field(pid, "VmRSS:")
}

/// The number of threads of `pid`.
pub fn threads(pid: i32) -> anyhow::Result<u64> {
    status_field(pid, "Threads:")
}

/// A numeric field of `/proc/<pid>/status`.
fn status_field(pid: i32, field: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("failed to read {path}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no {field} in {path}"))
}

struct Stat {
    pid: i32,
    ppid: i32,
    /// utime + stime + cutime + cstime.
    ticks: u64,
}

fn all_stats() -> Vec<Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter_map(|pid| {
            let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(pid, &text)
        })
        .collect()
}

/// Fields after the command name: state ppid ... utime(14) stime cutime cstime (1-based).
fn parse_stat(pid: i32, text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| fields.get(i).and_then(|f| f.parse::<i64>().ok());
    let ppid = i32::try_from(num(1)?).ok()?;
    let ticks = (11..=14).map(num).sum::<Option<i64>>()?;
    Some(Stat { pid, ppid, ticks: u64::try_from(ticks).unwrap_or(0) })
}

fn clock_ticks() -> f64 {
    use nix::unistd::{SysconfVar, sysconf};
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as f64,
        _ => 100.0,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_stat;

    #[test]
    fn stat_lines_parse_past_odd_names() {
        let line = "42 (a (b) c) S 7 42 42 0 -1 4194560 100 0 0 0 250 50 3 2 20 0 1 0";
        let stat = parse_stat(42, line).expect("parses");
        assert_eq!(stat.ppid, 7);
        assert_eq!(stat.ticks, 305);
    }
}
