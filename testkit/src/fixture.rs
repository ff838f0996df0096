//! Fixtures: multi-document YAML of Kubernetes objects to create when the cluster starts.

use std::path::Path;

use serde_json::Value;

/// The default fixture (see `fixtures/default.yaml`).
pub const DEFAULT_YAML: &str = include_str!("../fixtures/default.yaml");

/// Kinds a fixture may hold.
const KINDS: [&str; 5] = ["Namespace", "Pod", "Service", "Deployment", "StatefulSet"];

/// Errors from reading a fixture.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The file could not be read.
    #[error("failed to read fixture {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A document is not YAML.
    #[error("failed to parse fixture document {index}")]
    Yaml {
        /// 0-based document index.
        index: usize,
        /// Why.
        #[source]
        source: serde_yaml::Error,
    },
    /// A document is not a supported object.
    #[error("failed to load fixture document {index}: {reason}")]
    Invalid {
        /// 0-based document index.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

/// The objects of a fixture, in file order.
#[derive(Debug, Clone, Default)]
pub struct Fixture {
    /// Each object as JSON, with `metadata.namespace` defaulted to `default`.
    pub objects: Vec<Value>,
}

impl Fixture {
    /// The default cluster: deployment and service `web`, pod `toolbox`.
    #[must_use]
    pub fn default_cluster() -> Self {
        // The embedded fixture is tested to parse.
        Self::parse(DEFAULT_YAML).unwrap_or_default()
    }

    /// Reads a fixture file.
    ///
    /// # Errors
    /// Fails if the file cannot be read or holds an invalid object.
    pub fn load(path: &Path) -> Result<Self, FixtureError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| FixtureError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text)
    }

    /// Parses fixture YAML.
    ///
    /// # Errors
    /// Fails on invalid YAML, unknown kinds, or objects without a name.
    pub fn parse(text: &str) -> Result<Self, FixtureError> {
        let mut objects = Vec::new();
        for (index, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
            let value = serde::Deserialize::deserialize(doc)
                .map_err(|source| FixtureError::Yaml { index, source })?;
            let mut value: Value = match value {
                Value::Null => continue,
                v => v,
            };
            let invalid = |reason: &str| FixtureError::Invalid { index, reason: reason.into() };
            let kind = value["kind"].as_str().ok_or_else(|| invalid("no kind"))?;
            if !KINDS.contains(&kind) {
                return Err(invalid(&format!("kind {kind} is not one of {KINDS:?}")));
            }
            if value["metadata"]["name"].as_str().is_none_or(str::is_empty) {
                return Err(invalid("no metadata.name"));
            }
            if kind != "Namespace" && value["metadata"]["namespace"].is_null() {
                value["metadata"]["namespace"] = Value::from("default");
            }
            objects.push(value);
        }
        Ok(Self { objects })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_fixture_has_web_and_toolbox() {
        let f = Fixture::parse(DEFAULT_YAML).expect("valid");
        let names: Vec<(&str, &str)> = f
            .objects
            .iter()
            .map(|o| {
                (o["kind"].as_str().expect("kind"), o["metadata"]["name"].as_str().expect("name"))
            })
            .collect();
        assert_eq!(names, [("Deployment", "web"), ("Service", "web"), ("Pod", "toolbox")]);
        assert_eq!(f.objects[0]["spec"]["replicas"], 2);
    }

    #[test]
    fn bad_fixtures_name_the_document() {
        let err = Fixture::parse(
            "kind: Pod\nmetadata: {name: a}\n---\nkind: Secret\nmetadata: {name: b}\n",
        )
        .expect_err("Secret is unsupported");
        assert!(err.to_string().contains("document 1"), "{err}");
        assert!(Fixture::parse("kind: Pod\nmetadata: {}\n").is_err());
    }
}
