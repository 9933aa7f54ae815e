//! The mapping-set JSON exactly as the seeds write it. Keys other than `mappings` (`version`,
//! `xdmSchema`, `id`, …) are accepted and ignored.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SourceType {
    Attribute,
    Expression,
    Constant,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Mapping {
    #[serde(rename = "sourceType")]
    pub source_type: SourceType,
    pub source: serde_json::Value,
    pub destination: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MappingSet {
    pub mappings: Vec<Mapping>,
}

#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error("{file}: not a mapping set: {message} (line {line}, column {column}). A mapping set is a JSON object with a `mappings` array of {{\"sourceType\", \"source\", \"destination\"}} objects")]
    Parse {
        file: String,
        message: String,
        line: usize,
        column: usize,
    },
    #[error("{file}: cannot read: {message}")]
    Read { file: String, message: String },
}

impl MappingSet {
    /// Parse a mapping set; `file` names the source in errors.
    pub fn from_json(file: &str, text: &str) -> Result<Self, SetError> {
        serde_json::from_str(text).map_err(|e| SetError::Parse {
            file: file.to_string(),
            message: e.to_string(),
            line: e.line(),
            column: e.column(),
        })
    }

    pub fn from_file(path: &std::path::Path) -> Result<Self, SetError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SetError::Read {
            file: file.clone(),
            message: e.to_string(),
        })?;
        Self::from_json(&file, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_unknown_top_level_keys_and_reads_optional_fields() {
        let set = MappingSet::from_json(
            "m.json",
            r#"{"version":0,"xdmSchema":"x","id":null,"mappings":[
                {"sourceType":"ATTRIBUTE","source":"results.id","destination":"_x.id","name":"id","description":"d"}]}"#,
        )
        .expect("parses");
        assert_eq!(set.mappings.len(), 1);
        assert_eq!(set.mappings[0].source_type, SourceType::Attribute);
        assert_eq!(set.mappings[0].name.as_deref(), Some("id"));
    }

    #[test]
    fn a_broken_file_names_file_and_position() {
        let err = MappingSet::from_json("m.json", "{\"mappings\": [\n\"mappings\": [").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("m.json:") && msg.contains("line 2"),
            "{msg}"
        );
    }
}
