//! Loading a capture: its meta line and its events, grouped by connection and direction.

use std::path::PathBuf;

use serde_json::Value;

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/vectors")
}

pub struct Capture {
    pub meta: Value,
    pub events: Vec<Value>,
}

impl Capture {
    pub fn load(name: &str) -> Self {
        let text = std::fs::read_to_string(dir().join(name)).expect("vector file");
        let mut lines = text.lines().map(|l| serde_json::from_str::<Value>(l).expect("JSON line"));
        let meta = lines.next().expect("meta line")["meta"].clone();
        let events = lines.filter(|v| v.get("layer").is_some()).collect();
        Self { meta, events }
    }

    /// The exit code kubectl reported, when the capture records one.
    pub fn exit_code(&self) -> Option<u8> {
        self.meta["kubectl_exit_code"].as_u64().map(|c| u8::try_from(c).expect("exit code"))
    }

    /// Events of one layer, in capture order.
    pub fn layer<'a>(&'a self, layer: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.events.iter().filter(move |e| e["layer"] == layer)
    }

    /// Events of one layer sent in `dir` ("c2s" or "s2c").
    pub fn sent<'a>(
        &'a self,
        layer: &'a str,
        dir: &'a str,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        self.layer(layer).filter(move |e| e["dir"] == dir)
    }
}

pub fn hex(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("hex string")).expect("valid hex")
}
