//! `tether session ls` as text: a kubectl-style table, or the list as JSON or YAML.

use comfy_table::{Cell, Color};

use super::{NONE, borderless, bytes, or_none};
use crate::args::Format;
use crate::time::human_age;
use crate::view::session::{SessionList, SessionView};

const COLUMNS: [&str; 8] = ["ID", "KIND", "TARGET", "POD", "PHASE", "ATTACHED", "OUTPUT", "AGE"];
const WIDE_COLUMNS: [&str; 9] = [
    "NAMESPACE",
    "CONTEXT",
    "CONTAINER",
    "COMMAND",
    "RESTART",
    "RESTARTS",
    "PROTOCOL",
    "EXIT",
    "REASON",
];

/// Renders `sessions` in `format` (a table when `None`); `now` is Unix seconds, for ages.
///
/// # Errors
/// Fails only if serde cannot encode the list.
pub fn render(
    sessions: &[SessionView],
    format: Option<Format>,
    now: i64,
    color: bool,
) -> anyhow::Result<String> {
    Ok(match format {
        None => table(sessions, false, now, color),
        Some(Format::Wide) => table(sessions, true, now, color),
        Some(Format::Json) => {
            serde_json::to_string_pretty(&SessionList { items: sessions })? + "\n"
        }
        Some(Format::Yaml) => serde_yaml::to_string(&SessionList { items: sessions })?,
    })
}

/// The table, with a header and a newline after each row.
#[must_use]
pub fn table(sessions: &[SessionView], wide: bool, now: i64, color: bool) -> String {
    let header = COLUMNS.iter().chain(if wide { &WIDE_COLUMNS[..] } else { &[] });
    let rows = sessions.iter().map(|session| {
        let mut row = row(session, now, color);
        if wide {
            row.extend(wide_row(session).into_iter().map(Cell::new));
        }
        row
    });
    borderless(header.copied(), rows, color)
}

fn row(s: &SessionView, now: i64, color: bool) -> Vec<Cell> {
    let phase = Cell::new(s.phase);
    let phase = match (color, s.phase) {
        (false, _) => phase,
        (true, "Running") => phase.fg(Color::Green),
        (true, "Lost") => phase.fg(Color::Red),
        (true, "Reconnecting" | "Starting") => phase.fg(Color::Yellow),
        (true, _) => phase,
    };
    let age = if s.created_unix > 0 { human_age(now - s.created_unix) } else { NONE.into() };
    vec![
        Cell::new(&s.id),
        Cell::new(s.kind),
        Cell::new(&s.target),
        Cell::new(or_none(&s.pod)),
        phase,
        Cell::new(s.attached),
        Cell::new(bytes(s.output_bytes)),
        Cell::new(age),
    ]
}

fn wide_row(s: &SessionView) -> [String; 9] {
    let or = |value: &str, default: &str| {
        if value.is_empty() { default.to_owned() } else { value.to_owned() }
    };
    let exit = s.exit.as_ref().map(|e| e.text()).unwrap_or_default();
    [
        or(&s.namespace, "<default>"),
        or(&s.context, "<current>"),
        or(&s.container, "<default>"),
        or(&s.command.join(" "), NONE),
        s.restart.to_owned(),
        s.restarts.to_string(),
        or(&s.protocol, NONE),
        or(&exit, NONE),
        or(&s.reason, NONE),
    ]
}

#[cfg(test)]
mod tests {
    use tether_proto::pb;

    use super::*;

    const NOW: i64 = 1_714_564_800;

    fn sessions() -> Vec<SessionView> {
        let shell = pb::Session {
            id: "a1b2".into(),
            kind: pb::SessionKind::Exec.into(),
            spec: Some(pb::ProcessSpec {
                target: "toolbox".into(),
                command: vec!["sh".into(), "-l".into()],
                ..Default::default()
            }),
            phase: pb::SessionPhase::Running.into(),
            pod: "toolbox".into(),
            attached: 1,
            output_bytes: 2048,
            created_unix: NOW - 90,
            ..Default::default()
        };
        let attach = pb::Session {
            id: "c3d4".into(),
            kind: pb::SessionKind::Attach.into(),
            spec: Some(pb::ProcessSpec { target: "deploy/web".into(), ..Default::default() }),
            phase: pb::SessionPhase::Lost.into(),
            reason: "pod deleted".into(),
            created_unix: NOW - 7200,
            ..Default::default()
        };
        [shell, attach].iter().map(SessionView::from).collect()
    }

    #[test]
    fn the_table_reads_like_kubectl() {
        let want = "\
ID     KIND     TARGET       POD       PHASE     ATTACHED   OUTPUT   AGE
a1b2   Exec     toolbox      toolbox   Running   1          2.0KiB   90s
c3d4   Attach   deploy/web   <none>    Lost      0          0B       120m
";
        assert_eq!(table(&sessions(), false, NOW, false), want);
    }

    #[test]
    fn wide_json_and_yaml() {
        let wide = table(&sessions(), true, NOW, false);
        assert!(wide.lines().next().is_some_and(|h| h.ends_with("PROTOCOL   EXIT     REASON")));
        assert!(wide.contains("sh -l"), "{wide}");
        assert!(wide.contains("pod deleted"), "{wide}");
        let json = render(&sessions(), Some(Format::Json), NOW, false).expect("json");
        let value: serde_json::Value = serde_json::from_str(&json).expect("parses");
        assert_eq!(value["items"][1]["phase"], "Lost");
        let yaml = render(&sessions(), Some(Format::Yaml), NOW, false).expect("yaml");
        assert!(yaml.starts_with("items:\n- id: a1b2\n"), "{yaml}");
    }
}
