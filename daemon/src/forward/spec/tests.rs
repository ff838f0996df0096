//! Target and port grammar tests, kubectl's forms and the errors for everything else.

use proptest::prelude::*;

use super::*;

fn port(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).expect("non-zero")
}

#[test]
fn targets_follow_kubectl() {
    let t = |s: &str| s.parse::<Target>();
    assert_eq!(t("pod/db-0"), Ok(Target { kind: TargetKind::Pod, name: "db-0".into() }));
    assert_eq!(t("db-0"), Ok(Target { kind: TargetKind::Pod, name: "db-0".into() }));
    assert_eq!(t("svc/web").map(|t| t.kind), Ok(TargetKind::Service));
    assert_eq!(t("service/web").map(|t| t.kind), Ok(TargetKind::Service));
    assert_eq!(t("deploy/web").map(|t| t.kind), Ok(TargetKind::Deployment));
    assert_eq!(t("deployment.apps/web").map(|t| t.kind), Ok(TargetKind::Deployment));
    assert_eq!(t("sts/db").map(|t| t.kind), Ok(TargetKind::StatefulSet));
    assert_eq!(t("svc/web").map(|t| t.to_string()), Ok("svc/web".into()));
    for bad in ["", "job/x", "svc/", "svc/a/b", "svc/Web", "pod/-x", "pod/x_y"] {
        let err = t(bad).expect_err(bad);
        assert!(err.to_string().contains("use pod/NAME"), "{bad}: {err}");
    }
}

#[test]
fn ports_follow_kubectl() {
    let p = |s: &str| s.parse::<PortMapping>();
    assert_eq!(
        p("5432"),
        Ok(PortMapping { local: Some(port(5432)), remote: RemotePort::Number(port(5432)) })
    );
    assert_eq!(
        p("8080:80"),
        Ok(PortMapping { local: Some(port(8080)), remote: RemotePort::Number(port(80)) })
    );
    assert_eq!(p(":80"), Ok(PortMapping { local: None, remote: RemotePort::Number(port(80)) }));
    assert_eq!(
        p("8080:http"),
        Ok(PortMapping { local: Some(port(8080)), remote: RemotePort::Name("http".into()) })
    );
    assert_eq!(p("http"), Ok(PortMapping { local: None, remote: RemotePort::Name("http".into()) }));
    for bad in
        ["0", "65536", "8080:", "-1", "a:b:c", "8080:UPPER", "x:80", "toolongportname123", ""]
    {
        let err = p(bad).expect_err(bad);
        assert!(err.to_string().contains("use LOCAL:REMOTE"), "{bad}: {err}");
    }
}

#[test]
fn specs_validate_names_and_need_ports() {
    let spec = ForwardSpec {
        name: "db".into(),
        target: "svc/db".parse().expect("target"),
        namespace: Some("default".into()),
        context: None,
        kubeconfig: None,
        ports: vec![],
        address: parse_address("127.0.0.1").expect("ip"),
    };
    assert_eq!(spec.validate(), Err(SpecError::NoPorts));
    let bad_ns = ForwardSpec {
        namespace: Some("Bad_NS".into()),
        ports: vec!["1".parse().expect("p")],
        ..spec.clone()
    };
    assert!(matches!(bad_ns.validate(), Err(SpecError::Name { what: "namespace", .. })));
    assert_eq!(parse_address("localhost").map(|a| a.to_string()), Ok("127.0.0.1".into()));
    assert!(parse_address("example.com").is_err());
    assert_eq!(
        ForwardSpec::default_name(&spec.target, &["5432".parse().expect("p")]),
        "svc-db-5432"
    );
}

proptest! {
    #[test]
    fn parsing_never_panics_and_round_trips(s in "\\PC{0,40}") {
        if let Ok(t) = s.parse::<Target>() {
            prop_assert_eq!(t.to_string().parse::<Target>(), Ok(t));
        }
        if let Ok(p) = s.parse::<PortMapping>() {
            prop_assert_eq!(p.to_string().parse::<PortMapping>(), Ok(p));
        }
    }
}
