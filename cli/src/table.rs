//! `tether ls` as text: a kubectl-style table without borders, or the list as JSON or YAML.

use comfy_table::{Cell, Color, Table};

use crate::args::Format;
use crate::time::human_age;
use crate::view::{ForwardList, ForwardView};

pub mod session;

const COLUMNS: [&str; 7] = ["NAME", "TARGET", "PORTS", "STATE", "POD", "RECONNECTS", "AGE"];
const WIDE_COLUMNS: [&str; 7] =
    ["NAMESPACE", "CONTEXT", "BYTES-IN", "BYTES-OUT", "CONNECTIONS", "PROTOCOL", "REASON"];
/// Where a value is empty, as kubectl prints it.
pub const NONE: &str = "<none>";

/// Renders `forwards` in `format` (a table when `None`); `now` is Unix seconds, for ages.
///
/// # Errors
/// Fails only if serde cannot encode the list.
pub fn render(
    forwards: &[ForwardView],
    format: Option<Format>,
    now: i64,
    color: bool,
) -> anyhow::Result<String> {
    Ok(match format {
        None => table(forwards, false, now, color),
        Some(Format::Wide) => table(forwards, true, now, color),
        Some(Format::Json) => {
            serde_json::to_string_pretty(&ForwardList { items: forwards })? + "\n"
        }
        Some(Format::Yaml) => serde_yaml::to_string(&ForwardList { items: forwards })?,
    })
}

/// The table, with a header and a newline after each row.
#[must_use]
pub fn table(forwards: &[ForwardView], wide: bool, now: i64, color: bool) -> String {
    let header = COLUMNS.iter().chain(if wide { &WIDE_COLUMNS[..] } else { &[] });
    let rows = forwards.iter().map(|forward| {
        let mut row = row(forward, now, color);
        if wide {
            row.extend(wide_row(forward).into_iter().map(Cell::new));
        }
        row
    });
    borderless(header.copied(), rows, color)
}

/// A kubectl-style table: no borders, three spaces between columns, a newline after each row.
#[must_use]
pub fn borderless<'a>(
    header: impl IntoIterator<Item = &'a str>,
    rows: impl IntoIterator<Item = Vec<Cell>>,
    color: bool,
) -> String {
    let mut table = Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    if color {
        table.enforce_styling()
    } else {
        table.force_no_tty()
    };
    table.set_header(header.into_iter().map(Cell::new));
    for row in rows {
        table.add_row(row);
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 3));
    }
    table.trim_fmt() + "\n"
}

fn row(f: &ForwardView, now: i64, color: bool) -> Vec<Cell> {
    let state = Cell::new(f.status.phase);
    let state = match (color, f.status.phase) {
        (false, _) => state,
        (true, "Ready") => state.fg(Color::Green),
        (true, "Failed") => state.fg(Color::Red),
        (true, "Reconnecting" | "Connecting" | "Pending") => state.fg(Color::Yellow),
        (true, _) => state,
    };
    let age = if f.created_unix > 0 { human_age(now - f.created_unix) } else { NONE.into() };
    vec![
        Cell::new(&f.name),
        Cell::new(&f.target),
        Cell::new(ports(f)),
        state,
        Cell::new(or_none(&f.status.pod)),
        Cell::new(f.stats.reconnects),
        Cell::new(age),
    ]
}

fn wide_row(f: &ForwardView) -> [String; 7] {
    let or = |value: &str, default: &str| {
        if value.is_empty() { default.to_owned() } else { value.to_owned() }
    };
    [
        or(&f.namespace, "<default>"),
        or(&f.context, "<current>"),
        bytes(f.stats.bytes_in),
        bytes(f.stats.bytes_out),
        format!("{}/{}", f.stats.connections_active, f.stats.connections_total),
        or(&f.status.protocol, NONE),
        or(&f.status.why(), NONE),
    ]
}

/// `LOCALPORT:REMOTE` pairs, comma-separated; `ADDRESS:LOCALPORT:REMOTE` for a forward that
/// listens beyond loopback, so it stands out.
fn ports(f: &ForwardView) -> String {
    let exposed = f.exposed();
    let pairs = f.mappings().into_iter().map(|(local, remote)| {
        if exposed {
            return format!("{local}:{remote}");
        }
        let port = local.rsplit_once(':').map_or(local.as_str(), |(_, port)| port);
        format!("{port}:{remote}")
    });
    pairs.collect::<Vec<_>>().join(",")
}

/// `value`, or [`NONE`] when it is empty.
#[must_use]
pub fn or_none(value: &str) -> &str {
    if value.is_empty() { NONE } else { value }
}

/// A byte count for people: `512B`, `1.5KiB`, `20.0MiB`.
#[must_use]
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1}{}", UNITS[unit])
}

#[cfg(test)]
mod tests;
