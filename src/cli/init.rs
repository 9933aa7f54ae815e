//! `sluice init CONNECTOR`: a commented starter flow in the current directory, made from the
//! connector's seed flow in `config/flows/` (the same file the demos and tests run), with the
//! seed's mapping set copied beside it. It passes `sluice check` before any secret exists and
//! runs with `--sandbox` as written.

use std::path::{Path, PathBuf};

use super::commands::registry;
use super::output::out;
use super::{EXIT_FAILED, EXIT_INVALID, EXIT_OK};

/// A connector's starting point: its seed flow and the mapping set that flow names.
struct Starter {
    connector: &'static str,
    flow: &'static str,
    mapping: Option<&'static str>,
}

const STARTERS: &[Starter] = &[
    Starter {
        connector: "zendesk",
        flow: include_str!("../../config/flows/zendesk-users.toml"),
        mapping: Some(include_str!("../../config/mappings/zendesk-users.json")),
    },
    Starter {
        connector: "mixpanel",
        flow: include_str!("../../config/flows/mixpanel-events.toml"),
        mapping: Some(include_str!("../../config/mappings/mixpanel-events.json")),
    },
    Starter {
        connector: "pinterest",
        flow: include_str!("../../config/flows/pinterest-campaign-analytics.toml"),
        mapping: Some(include_str!(
            "../../config/mappings/pinterest-analytics.json"
        )),
    },
    Starter {
        connector: "linkedin",
        flow: include_str!("../../config/flows/linkedin-ad-analytics.toml"),
        mapping: Some(include_str!(
            "../../config/mappings/linkedin-ads-analytics.json"
        )),
    },
];

pub struct InitArgs<'a> {
    pub connector: &'a str,
    pub streams: Option<Vec<String>>,
    pub destination: Option<&'a str>,
    pub force: bool,
}

/// A TOML basic string: JSON's escapes are TOML's.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The flow text for `args`: the seed flow with its name, paths, streams and header replaced.
/// A flow whose streams are not the seed's loses the seed's mapping set (it maps those
/// streams only) and writes every field.
fn starter_text(starter: &Starter, args: &InitArgs<'_>, mapping_file: Option<&str>) -> String {
    let name = starter.connector;
    let destination = args
        .destination
        .map(str::to_string)
        .unwrap_or_else(|| format!("out/{name}"));
    let mut out = vec![
        format!("# A starter {name} flow, written by `sluice init {name}`."),
        "#".to_string(),
        format!(
            "#   sluice check {name}.toml            # offline: what is valid, what a run needs"
        ),
        format!("#   sluice run {name}.toml --sandbox    # against the built-in simulator"),
        format!("#   sluice streams {name}               # every stream it can pull"),
        "#".to_string(),
        "# Then export the variables its ${…} references name and drop --sandbox. Relative paths"
            .to_string(),
        "# resolve against this file's directory.".to_string(),
        String::new(),
    ];
    let mut body = starter
        .flow
        .lines()
        .skip_while(|l| l.starts_with('#') || l.trim().is_empty());
    let mut section = String::new();
    for line in body.by_ref() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            section = trimmed.to_string();
            if section.starts_with("[mapping]") && mapping_file.is_none() {
                out.push("# [mapping]                              # a mapping set (JSON) of the streams".into());
                out.push("# file = \"mappings/….json\"              # without one every field is written".into());
                continue;
            }
            out.push(line.to_string());
            if section.starts_with("[source]") {
                if let Some(streams) = &args.streams {
                    let list: Vec<String> = streams.iter().map(|s| quoted(s)).collect();
                    out.push(format!("streams = [{}]", list.join(", ")));
                }
            }
            continue;
        }
        if section.starts_with("[mapping]") && mapping_file.is_none() {
            continue;
        }
        let key = trimmed.split('=').next().unwrap_or("").trim();
        match (section.as_str(), key) {
            ("", "name") => out.push(format!("name = {}", quoted(name))),
            (s, "streams") if s.starts_with("[source]") && args.streams.is_some() => {}
            (s, "file") if s.starts_with("[mapping]") => {
                if let Some(file) = mapping_file {
                    out.push(format!(
                        "file = {}   # the seed's mapping set",
                        quoted(file)
                    ));
                }
            }
            (s, "path") if s.starts_with("[destination]") => out.push(format!(
                "path = {}   # a directory, or s3://, gs://, az://, file:// URL",
                quoted(&destination)
            )),
            _ => out.push(line.to_string()),
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

fn write_new(path: &Path, text: &str, force: bool) -> Result<(), String> {
    if path.exists() && !force {
        return Err(format!(
            "{} already exists; move it away or pass --force to replace it",
            path.display()
        ));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn init(args: InitArgs<'_>) -> u8 {
    let r = registry();
    let Some(starter) = STARTERS.iter().find(|s| s.connector == args.connector) else {
        super::print_error(&format!(
            "unknown connector `{}`; sluice has {} (see `sluice connectors`)",
            args.connector,
            r.names().join(", ")
        ));
        return EXIT_INVALID;
    };
    let known: Vec<String> = r
        .streams(starter.connector)
        .map(|s| s.into_iter().map(|s| s.name).collect())
        .unwrap_or_default();
    if let Some(streams) = &args.streams {
        for s in streams {
            if !known.contains(s) {
                let hint = sluice_core::suggest::closest(s, known.iter().map(String::as_str))
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                super::print_error(&format!(
                    "--streams: connector `{}` has no stream `{s}`{hint}; `sluice streams {}` lists them",
                    starter.connector, starter.connector
                ));
                return EXIT_INVALID;
            }
        }
    }
    // the seed's mapping set maps the seed flow's streams: others are written whole
    let seed_streams = args.streams.is_none();
    let mapping_file = format!("mappings/{}.json", starter.connector);
    let mapping = starter.mapping.filter(|_| seed_streams);
    let flow_path = PathBuf::from(format!("{}.toml", starter.connector));
    let text = starter_text(starter, &args, mapping.map(|_| mapping_file.as_str()));
    let mut written = Vec::new();
    if let Some(m) = mapping {
        let path = PathBuf::from(&mapping_file);
        if let Err(e) = write_new(&path, m, args.force) {
            super::print_error(&e);
            return EXIT_FAILED;
        }
        written.push(path);
    }
    if let Err(e) = write_new(&flow_path, &text, args.force) {
        super::print_error(&e);
        return EXIT_FAILED;
    }
    written.insert(0, flow_path.clone());
    for w in &written {
        out!("wrote {}", w.display());
    }
    out!(
        "next: sluice check {0}   then   sluice run {0} --sandbox",
        flow_path.display()
    );
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_runner::{Flow, Overrides};

    /// The text as `sluice run` reads it, every `${NAME}` a stand-in.
    fn parse(text: &str) -> Flow {
        Flow::parse(
            Path::new("/work/x/flow.toml"),
            text,
            &Overrides::default(),
            &|_| Some("stand-in".into()),
        )
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn every_connector_has_a_starter_and_its_paths_are_rewritten() {
        let names = registry().names();
        assert_eq!(STARTERS.len(), names.len());
        for s in STARTERS {
            assert!(names.contains(&s.connector), "{}", s.connector);
            let args = InitArgs {
                connector: s.connector,
                streams: None,
                destination: Some("s3://lake/raw"),
                force: false,
            };
            let text = starter_text(s, &args, Some("mappings/x.json"));
            let flow = parse(&text);
            assert_eq!(flow.name, s.connector);
            assert_eq!(flow.destination.describe(), "s3://lake/raw");
            assert_eq!(
                flow.mapping_file.as_deref(),
                Some(Path::new("/work/x/mappings/x.json"))
            );
            assert!(!text.contains("../"), "{text}");
        }
    }

    #[test]
    fn other_streams_drop_the_seed_mapping() {
        let s = &STARTERS[2];
        let args = InitArgs {
            connector: s.connector,
            streams: Some(vec!["board".into(), "pin".into()]),
            destination: None,
            force: false,
        };
        let text = starter_text(s, &args, None);
        let flow = parse(&text);
        assert!(flow.mapping_file.is_none(), "{text}");
        assert_eq!(
            flow.streams.as_deref(),
            Some(&["board".to_string(), "pin".to_string()][..])
        );
        assert_eq!(flow.destination.describe(), "/work/x/out/pinterest");
    }
}
