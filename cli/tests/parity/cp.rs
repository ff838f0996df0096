//! `tether cp` and `kubectl cp`: a tree with a 20 MiB file into a pod and back, checksummed;
//! entries of a pod's tar that would land outside the destination are refused by both.

use std::path::Path;

use tether_testsupport::payload;

use crate::{Env, text};

/// `sha256sum` of every file under `dir`, by relative path, run in the pod or locally.
const LISTING: &str = "cd \"$1\" && find . -type f | LC_ALL=C sort | xargs sha256sum";

async fn local_listing(dir: &Path) -> String {
    let out = tokio::process::Command::new("sh")
        .args(["-c", LISTING, "sh"])
        .arg(dir)
        .output()
        .await
        .expect("sh");
    assert!(out.status.success());
    text(&out.stdout)
}

async fn pod_listing(env: &Env, dir: &str) -> String {
    let out = env.kubectl(&["exec", "toolbox", "--", "sh", "-c", LISTING, "sh", dir], None).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

fn tree(root: &Path) {
    std::fs::create_dir_all(root.join("sub/deeper")).expect("mkdir");
    std::fs::write(root.join("big.bin"), payload(20, 20 << 20)).expect("write");
    std::fs::write(root.join("sub/notes.txt"), "hello\n").expect("write");
    std::fs::write(root.join("sub/deeper/mid.bin"), payload(21, 300_000)).expect("write");
    std::fs::write(root.join("sub/empty"), "").expect("write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp_copies_a_tree_both_ways_like_kubectl() {
    let Some(env) = Env::start("cp").await else { return };
    let src = env.dir.join("src");
    tree(&src);
    let expected = local_listing(&src).await;
    assert_eq!(expected.lines().count(), 4);
    for (tool, up, back) in [("tether", "up-t", "back-t"), ("kubectl", "up-k", "back-k")] {
        let dest = format!("toolbox:{up}");
        let out = if tool == "tether" {
            env.tether(&["cp", "src", &dest], None).await
        } else {
            env.kubectl(&["cp", "src", &dest], None).await
        };
        assert!(out.status.success(), "{tool} cp into the pod: {}", text(&out.stderr));
        assert_eq!(pod_listing(&env, up).await, expected, "{tool} put the tree into the pod");
        let out = if tool == "tether" {
            env.tether(&["cp", &dest, back], None).await
        } else {
            env.kubectl(&["cp", &dest, back], None).await
        };
        assert!(out.status.success(), "{tool} cp from the pod: {}", text(&out.stderr));
        assert_eq!(
            local_listing(&env.dir.join(back)).await,
            expected,
            "{tool} brought the tree back"
        );
    }
    env.finish().await;
}

/// A pod whose `tar` answers `tar cf` with a prepared archive, as a hostile image could.
const EVIL: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: evil, namespace: default, labels: {app: evil}}
spec:
  containers:
    - name: main
      command: ["sleep", "3600"]
      env: [{name: PATH, value: "$DIR/evil-bin:$(PATH)"}]
"#;

fn evil_tar(path: &Path) {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("data/ok.txt", &b"fine\n"[..]),
        ("data/../../escape.txt", b"escaped\n"),
        ("data/sub/../../../../escape2.txt", b"escaped\n"),
    ] {
        let mut header = tar::Header::new_gnu();
        // Written by hand: the tar crate refuses `..` in names, as a careful writer should.
        header.as_gnu_mut().expect("gnu header").name[..name.len()]
            .copy_from_slice(name.as_bytes());
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, data).expect("append");
    }
    std::fs::write(path, builder.into_inner().expect("tar")).expect("write the archive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp_refuses_entries_outside_the_destination_like_kubectl() {
    let Some(env) = Env::start_with("cp-evil", EVIL).await else { return };
    let bin = env.dir.join("evil-bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    evil_tar(&env.dir.join("evil.tar"));
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = cf ]; then exec cat '{}'; fi\nPATH=${{PATH#*:}} exec tar \"$@\"\n",
        env.dir.join("evil.tar").display()
    );
    std::fs::write(bin.join("tar"), script).expect("write the fake tar");
    std::fs::set_permissions(bin.join("tar"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    assert!(
        env.cluster.wait_ready("app=evil", 1, std::time::Duration::from_secs(30)).await.is_some()
    );
    for (tool, out_dir) in [("tether", "a-t/b/out"), ("kubectl", "a-k/b/out")] {
        std::fs::create_dir_all(env.dir.join(out_dir).parent().expect("parent")).expect("mkdir");
        let args = ["cp", "evil:data", out_dir];
        let out = if tool == "tether" {
            env.tether(&args, None).await
        } else {
            env.kubectl(&args, None).await
        };
        let stderr = text(&out.stderr);
        assert!(stderr.contains("escape.txt"), "{tool} names the refused entry: {stderr}");
        assert_eq!(
            std::fs::read_to_string(env.dir.join(out_dir).join("ok.txt")).ok().as_deref(),
            Some("fine\n"),
            "{tool}: {stderr}"
        );
        let top = env.dir.join(out_dir.split('/').next().expect("top"));
        for escaped in [
            top.join("escape.txt"),
            top.join("b/escape.txt"),
            env.dir.join("escape2.txt"),
            top.join("escape2.txt"),
        ] {
            assert!(
                !escaped.exists(),
                "{tool} wrote {} outside the destination",
                escaped.display()
            );
        }
    }
    env.finish().await;
}
