//! The deployment material of `docs/deploy/` held to the binary and the repository: the
//! Kubernetes manifests have the structure their README claims, every sluice command in them
//! (and in the Airflow DAG, the Dockerfile and the README) is one the binary accepts, the DAG
//! compiles and runs one task per shard, and the Dockerfile copies what a build of the binary
//! reads. Python (with PyYAML, installed with pip if missing) reads the YAML and the DAG; no
//! Docker daemon, cluster or Airflow is needed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn deploy() -> PathBuf {
    repo().join("docs/deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// The built binary, with only `env` in its environment (no secrets of the machine's).
fn sluice(args: &[String], env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .output()
        .expect("sluice ran");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// `python3` with PyYAML importable (pip-installed once if it is not).
fn python() -> &'static str {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        assert!(
            common::python_modules("yaml", &["pyyaml"]),
            "python3 with PyYAML is needed to read docs/deploy (python3 -m pip install pyyaml)"
        );
    });
    "python3"
}

/// Run an inline Python script with `args`; its stdout, which must succeed.
fn py(script: &str, args: &[&str]) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 ran");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

// ---------------------------------------------------------------------------------------------
// The manifests, as JSON

/// Every YAML document under docs/deploy/kubernetes by file name; the TOML flows of their
/// ConfigMaps parsed too (`_flows`, by data key). Strict: a value YAML would read as a date or
/// anything else JSON has no type for fails the load.
const LOAD_MANIFESTS: &str = r#"
import json, pathlib, sys, tomllib, yaml
out = {"_flows": {}}
for p in sorted(pathlib.Path(sys.argv[1]).iterdir()):
    if p.suffix not in (".yaml", ".yml"):
        continue
    docs = [d for d in yaml.safe_load_all(p.read_text()) if d is not None]
    out[p.name] = docs
    for d in docs:
        if d.get("kind") == "ConfigMap":
            for key, text in (d.get("data") or {}).items():
                if key.endswith(".toml"):
                    out["_flows"][key] = tomllib.loads(text)
json.dump(out, sys.stdout)
"#;

struct Manifests {
    job: Value,
    cronjob: Value,
    configmap: Value,
    secret: Value,
    flows: BTreeMap<String, Value>,
}

fn manifests() -> Manifests {
    let dir = deploy().join("kubernetes");
    let all: Value =
        serde_json::from_str(&py(LOAD_MANIFESTS, &[dir.to_str().expect("utf-8 path")]))
            .expect("json");
    let files: Vec<&String> = all
        .as_object()
        .expect("object")
        .keys()
        .filter(|k| !k.starts_with('_'))
        .collect();
    assert_eq!(
        files.len(),
        3,
        "the three manifests the README lists: {files:?}"
    );
    for (file, docs) in all.as_object().expect("object") {
        if file.starts_with('_') {
            continue;
        }
        for d in docs.as_array().expect("documents") {
            for key in ["apiVersion", "kind"] {
                assert!(d[key].is_string(), "{file}: a document without {key}");
            }
            assert!(
                d["metadata"]["name"].is_string(),
                "{file}: a document without a name"
            );
        }
    }
    let one = |file: &str, kind: &str| -> Value {
        let docs = all[file]
            .as_array()
            .unwrap_or_else(|| panic!("{file} is missing"));
        let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
        assert_eq!(found.len(), 1, "{file}: one {kind}");
        found[0].clone()
    };
    let job = one("backfill-indexed-job.yaml", "Job");
    assert_eq!(job["apiVersion"], "batch/v1");
    let cronjob = one("run-cronjob.yaml", "CronJob");
    assert_eq!(cronjob["apiVersion"], "batch/v1");
    let configmap = one("configmap-example.yaml", "ConfigMap");
    let secret = one("configmap-example.yaml", "Secret");
    let flows = all["_flows"]
        .as_object()
        .expect("flows")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Manifests {
        job,
        cronjob,
        configmap,
        secret,
        flows,
    }
}

/// The Job spec of a Job or of a CronJob's template.
fn job_spec(doc: &Value) -> &Value {
    match doc["kind"].as_str() {
        Some("CronJob") => &doc["spec"]["jobTemplate"]["spec"],
        _ => &doc["spec"],
    }
}

fn pod_spec(doc: &Value) -> &Value {
    &job_spec(doc)["template"]["spec"]
}

fn the_container(doc: &Value) -> &Value {
    let containers = pod_spec(doc)["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "one container: sluice");
    assert_eq!(containers[0]["name"], "sluice");
    &containers[0]
}

fn args(doc: &Value) -> Vec<String> {
    the_container(doc)["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| {
            a.as_str()
                .unwrap_or_else(|| panic!("every argument is a string: {a}"))
                .to_string()
        })
        .collect()
}

/// The value after `flag` in `args`.
fn arg_after<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// What the pod failure policy does with a container exit code: the first matching rule's
/// action, as the Job controller evaluates them; `None` when no rule matches (counted).
fn action_for(doc: &Value, code: i64) -> Option<String> {
    let rules = job_spec(doc)["podFailurePolicy"]["rules"].as_array()?;
    for rule in rules {
        let on = &rule["onExitCodes"];
        if on.is_null() {
            continue;
        }
        if let Some(c) = on["containerName"].as_str() {
            if c != "sluice" {
                continue;
            }
        }
        let values: Vec<i64> = on["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|v| v.as_i64().expect("an exit code"))
            .collect();
        let hit = match on["operator"].as_str() {
            Some("In") => values.contains(&code),
            Some("NotIn") => code != 0 && !values.contains(&code),
            other => panic!("unknown operator {other:?}"),
        };
        if hit {
            return Some(rule["action"].as_str().expect("action").to_string());
        }
    }
    None
}

/// A Kubernetes memory quantity in bytes.
fn bytes(q: &str) -> u64 {
    let (num, unit) = q.split_at(q.find(|c: char| c.is_alphabetic()).unwrap_or(q.len()));
    let n: u64 = num.parse().unwrap_or_else(|_| panic!("quantity {q}"));
    n * match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        other => panic!("unit {other} of {q}"),
    }
}

/// `${NAME}` references of a parsed flow's values (comments are not values).
fn flow_env_refs(flow: &Value) -> BTreeSet<String> {
    match flow {
        Value::String(s) => env_refs(s),
        Value::Array(a) => a.iter().flat_map(flow_env_refs).collect(),
        Value::Object(o) => o.values().flat_map(flow_env_refs).collect(),
        _ => BTreeSet::new(),
    }
}

/// `${NAME}` references of a text.
fn env_refs(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        let tail = &rest[i + 2..];
        let end = tail.find('}').expect("a closed ${…}");
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

/// `$(VAR)` references of Kubernetes arguments.
fn k8s_refs(args: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for a in args {
        let mut rest = a.as_str();
        while let Some(i) = rest.find("$(") {
            let tail = &rest[i + 2..];
            let end = tail.find(')').expect("a closed $(…)");
            out.insert(tail[..end].to_string());
            rest = &tail[end..];
        }
    }
    out
}

fn secret_keys(secret: &Value) -> BTreeMap<String, String> {
    let mut keys = BTreeMap::new();
    for field in ["stringData", "data"] {
        if let Some(m) = secret[field].as_object() {
            for (k, v) in m {
                keys.insert(k.clone(), v.as_str().expect("text").to_string());
            }
        }
    }
    keys
}

/// The flow a manifest runs: its data key in the ConfigMap, its TOML text and parsed value.
fn flow_of<'a>(m: &'a Manifests, doc: &Value) -> (String, &'a str, &'a Value) {
    let path = args(doc)
        .get(1)
        .cloned()
        .expect("the flow file after the subcommand");
    let key = path
        .strip_prefix("/flows/")
        .unwrap_or_else(|| panic!("the flow is read from the ConfigMap at /flows: {path}"))
        .to_string();
    let text = m.configmap["data"][&key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a key of the ConfigMap"));
    let flow = m.flows.get(&key).expect("parsed flow");
    (key, text, flow)
}

/// What every pod of the manifests must be: non-root, read-only, its flow from the ConfigMap,
/// its work dir an emptyDir, its secrets from the Secret, bounded resources.
fn check_pod(m: &Manifests, doc: &Value) {
    let name = doc["metadata"]["name"].as_str().expect("name");
    let pod = pod_spec(doc);
    let c = the_container(doc);
    assert_eq!(pod["restartPolicy"], "Never", "{name}: restartPolicy");
    assert_eq!(
        pod["automountServiceAccountToken"], false,
        "{name}: no API token"
    );
    // non-root
    let run_as_non_root = c["securityContext"]["runAsNonRoot"] == true
        || pod["securityContext"]["runAsNonRoot"] == true;
    assert!(run_as_non_root, "{name}: runAsNonRoot");
    for sc in [&pod["securityContext"], &c["securityContext"]] {
        if let Some(uid) = sc["runAsUser"].as_i64() {
            assert_ne!(uid, 0, "{name}: runAsUser 0");
        }
    }
    assert_eq!(
        c["securityContext"]["readOnlyRootFilesystem"], true,
        "{name}: read-only root filesystem"
    );
    assert_eq!(
        c["securityContext"]["allowPrivilegeEscalation"], false,
        "{name}: no privilege escalation"
    );
    assert!(
        c["securityContext"]["capabilities"]["drop"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "ALL")),
        "{name}: every capability dropped"
    );
    // the image's ENTRYPOINT runs sluice; args are its arguments
    assert!(c["command"].is_null(), "{name}: the ENTRYPOINT is sluice");
    let image = c["image"].as_str().expect("image");
    let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
    assert!(
        !tag.is_empty() && !tag.contains('/') && tag != "latest",
        "{name}: a pinned image tag: {image}"
    );

    // the flow: a key of the ConfigMap, mounted read-only at /flows
    let (key, _, flow) = flow_of(m, doc);
    let volumes = pod["volumes"].as_array().expect("volumes");
    let volume = |mount: &Value| -> &Value {
        volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap_or_else(|| panic!("{name}: no volume for {mount}"))
    };
    let mounts = c["volumeMounts"].as_array().expect("volumeMounts");
    let flows_mount = mounts
        .iter()
        .find(|v| v["mountPath"] == "/flows")
        .unwrap_or_else(|| panic!("{name}: nothing at /flows"));
    assert_eq!(flows_mount["readOnly"], true, "{name}: /flows read-only");
    assert_eq!(
        volume(flows_mount)["configMap"]["name"],
        m.configmap["metadata"]["name"],
        "{name}: /flows is the ConfigMap"
    );
    // the work dir: absolute, inside a writable emptyDir (the root filesystem is read-only)
    let work_dir = flow["destination"]["work_dir"]
        .as_str()
        .unwrap_or_else(|| panic!("{key}: an object store flow sets work_dir"));
    assert!(work_dir.starts_with('/'), "{key}: an absolute work_dir");
    let work_mount = mounts
        .iter()
        .find(|v| {
            let p = v["mountPath"].as_str().unwrap_or("/-");
            Path::new(work_dir).starts_with(p)
        })
        .unwrap_or_else(|| panic!("{name}: no mount holds work_dir {work_dir}"));
    assert!(
        volume(work_mount)["emptyDir"].is_object(),
        "{name}: the work dir is an emptyDir"
    );
    assert_ne!(
        work_mount["readOnly"], true,
        "{name}: the work dir is writable"
    );
    // the deployment's premise: an object store lake and a shared PostgreSQL state
    let lake = flow["destination"]["path"].as_str().expect("path");
    assert!(
        ["s3://", "gs://", "az://", "abfss://"]
            .iter()
            .any(|s| lake.starts_with(s)),
        "{key}: an object store lake: {lake}"
    );
    let url = flow["state"]["url"].as_str().expect("[state] url");
    let authority = url
        .strip_prefix("postgres://")
        .unwrap_or_else(|| panic!("{key}: a PostgreSQL state store: {url}"));
    if let Some((userinfo, _)) = authority.split_once('@') {
        assert!(!userinfo.contains(':'), "{key}: a password in the URL");
    }
    assert!(
        flow["state"]["password"]
            .as_str()
            .is_some_and(|p| p.starts_with("${") && p.ends_with('}')),
        "{key}: the state password is a ${{NAME}} reference"
    );
    // TLS to PostgreSQL, the server's certificate verified; its CA mounted read-only
    assert!(
        url.contains("sslmode=require"),
        "{key}: TLS to the state store: {url}"
    );
    if let Some(ca) = flow["state"]["ca_file"].as_str() {
        let mount = mounts
            .iter()
            .find(|v| {
                let p = v["mountPath"].as_str().unwrap_or("/-");
                Path::new(ca).starts_with(p)
            })
            .unwrap_or_else(|| panic!("{name}: no mount holds ca_file {ca}"));
        assert_eq!(mount["readOnly"], true, "{name}: the CA read-only");
        let v = volume(mount);
        let source = if v["configMap"].is_object() {
            &v["configMap"]
        } else {
            &v["secret"]
        };
        assert!(
            source.is_object(),
            "{name}: the CA from a ConfigMap or Secret"
        );
        let inside = Path::new(ca)
            .strip_prefix(mount["mountPath"].as_str().expect("path"))
            .expect("inside");
        if let Some(items) = source["items"].as_array() {
            assert!(
                items
                    .iter()
                    .any(|i| i["path"] == inside.to_str().expect("utf-8")),
                "{name}: {ca} is not one of the volume's items"
            );
        }
    }

    // secrets: each ${NAME} of the flow from the Secret, never a literal
    let keys = secret_keys(&m.secret);
    let env = c["env"].as_array().expect("env");
    let needed = flow_env_refs(flow);
    assert!(
        !needed.is_empty(),
        "{key}: credentials from the environment"
    );
    for var in needed {
        let e = env
            .iter()
            .find(|e| e["name"] == var.as_str())
            .unwrap_or_else(|| panic!("{name}: {var} (used by {key}) is not in env"));
        assert!(e["value"].is_null(), "{name}: {var} is a literal value");
        let r = &e["valueFrom"]["secretKeyRef"];
        assert_eq!(
            r["name"], m.secret["metadata"]["name"],
            "{name}: {var} from the Secret"
        );
        assert!(
            keys.contains_key(r["key"].as_str().expect("key")),
            "{name}: the example Secret has no key {}",
            r["key"]
        );
        assert_ne!(r["optional"], true, "{name}: {var} is required by the flow");
    }
    for e in env {
        let r = &e["valueFrom"]["secretKeyRef"];
        if r.is_object() {
            assert_eq!(r["name"], m.secret["metadata"]["name"], "{name}: {e}");
            assert!(
                keys.contains_key(r["key"].as_str().expect("key")),
                "{name}: the example Secret has no key {}",
                r["key"]
            );
        }
    }
    // no secret value anywhere in the arguments
    let all_args = args(doc).join(" ");
    for (k, v) in &keys {
        assert!(
            !all_args.contains(v.as_str()),
            "{name}: {k}'s value in args"
        );
    }
    for var in k8s_refs(&args(doc)) {
        assert!(
            env.iter().any(|e| e["name"] == var.as_str()),
            "{name}: $({var}) in args is not declared in the container's env, so Kubernetes \
             would pass it through unexpanded"
        );
    }

    // resources: memory requested and bounded, CPU requested
    let r = &c["resources"];
    let request = bytes(r["requests"]["memory"].as_str().expect("memory request"));
    let limit = bytes(r["limits"]["memory"].as_str().expect("memory limit"));
    assert!(
        (64 << 20..=128 << 20).contains(&request),
        "{name}: 64-128 MiB requested: {request}"
    );
    assert!(limit >= request, "{name}: limit under request");
    assert!(r["requests"]["cpu"].is_string(), "{name}: CPU requested");
}

#[test]
fn the_manifests_have_the_structure_the_readme_claims() {
    let m = manifests();

    // the backfill: an Indexed Job whose N is --shard's
    let job = &m.job;
    let spec = job_spec(job);
    assert_eq!(spec["completionMode"], "Indexed");
    let a = args(job);
    assert_eq!(a[0], "backfill");
    let shard = arg_after(&a, "--shard").expect("the Job runs shards");
    let (k, n) = shard.split_once('/').expect("--shard K/N");
    assert_eq!(k, "$(JOB_COMPLETION_INDEX)", "K is the completion index");
    let n: i64 = n.parse().expect("N is a number");
    assert!(n >= 2, "a sharded Job has shards: {n}");
    assert_eq!(spec["completions"].as_i64(), Some(n), "completions = N");
    assert_eq!(spec["parallelism"].as_i64(), Some(n), "parallelism = N");
    for flag in ["--from", "--to"] {
        let day = arg_after(&a, flag).expect("a range");
        assert!(
            day.len() == 10 && day.as_bytes()[4] == b'-' && day.as_bytes()[7] == b'-',
            "{flag} YYYY-MM-DD: {day}"
        );
    }
    let index = the_container(job)["env"]
        .as_array()
        .expect("env")
        .iter()
        .find(|e| e["name"] == "JOB_COMPLETION_INDEX")
        .expect("JOB_COMPLETION_INDEX declared in env");
    assert!(
        index["valueFrom"]["fieldRef"]["fieldPath"]
            .as_str()
            .is_some_and(|p| p.contains("['batch.kubernetes.io/job-completion-index']")),
        "from the completion index annotation: {index}"
    );
    assert!(
        spec["backoffLimitPerIndex"]
            .as_i64()
            .is_some_and(|b| b >= 1),
        "a failed shard is retried alone"
    );
    assert_eq!(action_for(job, 2).as_deref(), Some("FailJob"), "exit 2");
    assert_eq!(action_for(job, 4).as_deref(), Some("Ignore"), "exit 4");
    assert_eq!(
        action_for(job, 6).as_deref(),
        Some("Ignore"),
        "exit 6: a drained shard is run again, not counted done"
    );
    assert_eq!(action_for(job, 5).as_deref(), Some("FailIndex"), "exit 5");
    assert_eq!(action_for(job, 3).as_deref(), Some("FailIndex"), "exit 3");
    assert_eq!(action_for(job, 1), None, "exit 1 is counted and retried");
    assert!(
        spec["activeDeadlineSeconds"].as_i64().is_some(),
        "the exit-4 retries are bounded"
    );
    let disruption_ignored = spec["podFailurePolicy"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .any(|r| {
            r["action"] == "Ignore"
                && r["onPodConditions"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["type"] == "DisruptionTarget"))
        });
    assert!(disruption_ignored, "evictions are not the shard's failures");
    check_pod(&m, job);

    // the hourly run: a CronJob, never two at once
    let cron = &m.cronjob;
    assert_eq!(cron["spec"]["concurrencyPolicy"], "Forbid");
    let schedule = cron["spec"]["schedule"].as_str().expect("schedule");
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    assert_eq!(fields.len(), 5, "{schedule}");
    assert!(
        fields[0].parse::<u32>().is_ok_and(|m| m < 60) && fields[1..].iter().all(|f| *f == "*"),
        "hourly: {schedule}"
    );
    let ca = args(cron);
    assert_eq!(ca[0], "run");
    let cspec = job_spec(cron);
    match arg_after(&ca, "--shard") {
        Some(shard) => {
            let (k, n) = shard.split_once('/').expect("--shard K/N");
            assert_eq!(k, "$(JOB_COMPLETION_INDEX)");
            assert_eq!(cspec["completionMode"], "Indexed");
            assert_eq!(cspec["completions"].as_i64(), n.parse().ok());
            assert_eq!(cspec["parallelism"].as_i64(), n.parse().ok());
        }
        None => {
            // one pod a run: no index, no shards
            assert_ne!(cspec["completionMode"], "Indexed");
            assert!(cspec["completions"].as_i64().unwrap_or(1) == 1);
            assert!(cspec["parallelism"].as_i64().unwrap_or(1) == 1);
        }
    }
    // 2, 3: a retry fails the same way; 4, 5: the next tick continues
    for code in [2, 3, 4, 5] {
        assert_eq!(
            action_for(cron, code).as_deref(),
            Some("FailJob"),
            "the run's exit {code}"
        );
    }
    assert_eq!(action_for(cron, 1), None, "the run's exit 1 is retried");
    check_pod(&m, cron);
    assert_eq!(
        the_container(job)["image"],
        the_container(cron)["image"],
        "one image"
    );
    assert_eq!(
        flow_of(&m, job).0,
        flow_of(&m, cron).0,
        "the run and the backfill share a flow (and so its state)"
    );

    // the example Secret is fake, and no secret is in a ConfigMap or the deploy docs
    let keys = secret_keys(&m.secret);
    assert!(!keys.is_empty());
    let docs: Vec<(&str, String)> = ["README.md", "Dockerfile", "airflow/sluice_backfill_dag.py"]
        .iter()
        .map(|f| (*f, read(&deploy().join(f))))
        .collect();
    for (k, v) in &keys {
        assert!(v.contains("FAKE"), "{k}: a clearly fake placeholder: {v}");
        for (f, text) in &docs {
            assert!(!text.contains(v.as_str()), "{k}'s value in {f}");
        }
        for (data_key, text) in m.configmap["data"].as_object().expect("data") {
            assert!(
                !text.as_str().expect("text").contains(v.as_str()),
                "{k}'s value in the ConfigMap's {data_key}"
            );
        }
    }
    // the ConfigMap's mapping set is the repository's, unchanged
    for (key, flow) in &m.flows {
        let mapping = flow["mapping"]["file"].as_str().expect("a mapping set");
        let in_map: Value = serde_json::from_str(
            m.configmap["data"][mapping]
                .as_str()
                .unwrap_or_else(|| panic!("{key}'s mapping {mapping} is not in the ConfigMap")),
        )
        .expect("mapping json");
        let in_repo: Value =
            serde_json::from_str(&read(&repo().join("config/mappings").join(mapping)))
                .expect("repo mapping json");
        assert_eq!(
            in_map, in_repo,
            "{mapping} differs from config/mappings/{mapping}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The commands

/// Flags a `--help` lists.
fn help_flags(path: &[String]) -> BTreeSet<String> {
    let mut a = path.to_vec();
    a.push("--help".into());
    let r = sluice(&a, &[]);
    assert_eq!(r.code, 0, "sluice {}: {}", a.join(" "), r.stderr);
    r.stdout
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|t| t.starts_with("--") && t.len() > 2)
        .map(str::to_string)
        .collect()
}

/// Subcommands a `--help` lists (its `Commands:` section).
fn help_commands(path: &[String]) -> BTreeSet<String> {
    let mut a = path.to_vec();
    a.push("--help".into());
    let r = sluice(&a, &[]);
    assert_eq!(r.code, 0, "sluice {}: {}", a.join(" "), r.stderr);
    r.stdout
        .split("Commands:")
        .nth(1)
        .map(|s| {
            s.lines()
                .skip(1)
                .take_while(|l| l.starts_with("  "))
                .filter_map(|l| l.split_whitespace().next())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Every `--flag` of `words` (sluice's arguments) is one its subcommand's help lists; the
/// subcommand itself exists.
fn check_flags(origin: &str, words: &[String]) {
    let mut path: Vec<String> = Vec::new();
    for w in words {
        if w.starts_with('-') {
            continue;
        }
        if help_commands(&path).contains(w) {
            path.push(w.clone());
        } else {
            break;
        }
    }
    let flags = help_flags(&path);
    for w in words.iter().filter(|w| w.starts_with("--")) {
        let flag = w.split('=').next().expect("flag");
        assert!(
            flags.contains(flag),
            "{origin}: `sluice {}` has no {flag} (its help lists {flags:?})",
            path.join(" ")
        );
    }
}

/// The DAG's command builders and tasks, read with `ast` (Airflow is never imported): its
/// constants and functions are run alone, and each task's command expression evaluated.
const READ_DAG: &str = r#"
import ast, json, shlex, sys
tree = ast.parse(open(sys.argv[1]).read())
keep, consts = [ast.parse("import shlex").body[0]], {}
for node in tree.body:
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        try:
            consts[node.targets[0].id] = ast.literal_eval(node.value)
            keep.append(node)
        except ValueError:
            pass
    elif isinstance(node, ast.FunctionDef):
        keep.append(node)
ns = {}
exec(compile(ast.Module(body=keep, type_ignores=[]), "dag", "exec"), ns)
def value(expr):
    return eval(compile(ast.Expression(expr), "dag", "eval"), ns)
def kwargs(call):
    return {k.arg: k.value for k in call.keywords}
tasks, names, edges, default_args = {}, {}, [], {}
for node in ast.walk(tree):
    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
        target, v = node.targets[0].id, node.value
        if target == "default_args" and isinstance(v, ast.Dict):
            for k, x in zip(v.keys, v.values):
                try:
                    default_args[k.value] = ast.literal_eval(x)
                except ValueError:
                    default_args[k.value] = ast.unparse(x)
        if not isinstance(v, ast.Call):
            continue
        f = v.func
        if isinstance(f, ast.Name) and f.id == "BashOperator":
            kw = kwargs(v)
            tid = ast.literal_eval(kw["task_id"])
            tasks[tid] = {"mapped": False, "commands": [value(kw["bash_command"])],
                          "retries": ast.literal_eval(kw["retries"]) if "retries" in kw else None}
            names[target] = tid
        elif isinstance(f, ast.Attribute) and f.attr == "expand":
            partial = f.value
            assert isinstance(partial, ast.Call) and partial.func.attr == "partial"
            assert partial.func.value.id == "BashOperator", "a mapped BashOperator"
            kw = kwargs(partial)
            tid = ast.literal_eval(kw["task_id"])
            tasks[tid] = {"mapped": True, "commands": list(value(kwargs(v)["bash_command"])),
                          "retries": ast.literal_eval(kw["retries"]) if "retries" in kw else None}
            names[target] = tid
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.RShift):
        edges.append([names.get(node.left.id), names.get(node.right.id)])
# Airflow's Jinja, for the templates a backfill uses: the run of the week of 2026-01-04
import datetime, re
class macros:
    @staticmethod
    def ds_add(ds, days):
        return (datetime.date.fromisoformat(ds) + datetime.timedelta(days=days)).isoformat()
def render(command):
    return re.sub(r"\{\{(.*?)\}\}",
                  lambda m: str(eval(m.group(1), {}, {"ds": "2026-01-04", "macros": macros})),
                  command)
words = {t: [shlex.split(render(c)) for c in v["commands"]] for t, v in tasks.items()}
json.dump({"consts": consts, "tasks": tasks, "words": words, "edges": edges,
           "default_args": default_args}, sys.stdout)
"#;

fn dag_path() -> PathBuf {
    deploy().join("airflow/sluice_backfill_dag.py")
}

fn read_dag() -> Value {
    serde_json::from_str(&py(READ_DAG, &[dag_path().to_str().expect("utf-8 path")])).expect("json")
}

struct Dockerfile {
    /// (instruction, rest), continuation lines joined, comments dropped.
    lines: Vec<(String, String)>,
}

fn dockerfile() -> Dockerfile {
    let text = read(&deploy().join("Dockerfile"));
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if current.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(t);
        let (ins, rest) = current.split_once(' ').unwrap_or((&current, ""));
        lines.push((ins.to_uppercase(), rest.trim().to_string()));
        current.clear();
    }
    assert!(current.is_empty(), "a continued last line");
    Dockerfile { lines }
}

impl Dockerfile {
    fn all(&self, ins: &str) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|(i, _)| i == ins)
            .map(|(_, r)| r.as_str())
            .collect()
    }

    fn exec_form(&self, ins: &str) -> Vec<String> {
        let v = self.all(ins);
        assert_eq!(v.len(), 1, "one {ins}");
        serde_json::from_str(v[0]).unwrap_or_else(|e| panic!("{ins} in exec form: {e}"))
    }

    fn stages(&self) -> Vec<Stage> {
        let mut out: Vec<Stage> = Vec::new();
        for (ins, rest) in &self.lines {
            if ins == "FROM" {
                let w: Vec<&str> = rest.split_whitespace().collect();
                let alias = (w.len() == 3 && w[1].eq_ignore_ascii_case("as")).then(|| w[2].into());
                out.push(Stage {
                    image: w[0].to_string(),
                    alias,
                    steps: Vec::new(),
                });
            } else if let Some(last) = out.last_mut() {
                last.steps.push((ins.clone(), rest.clone()));
            }
        }
        out
    }
}

/// A stage of the Dockerfile: its image, its `AS` name, its instructions.
#[derive(Debug)]
struct Stage {
    image: String,
    alias: Option<String>,
    steps: Vec<(String, String)>,
}

/// The README's shell lines that run sluice (in ``` blocks), continuation lines joined.
fn readme_commands() -> Vec<Vec<String>> {
    let text = read(&deploy().join("README.md"));
    let mut out = Vec::new();
    let mut in_code = false;
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            continue;
        }
        let t = t.split(" #").next().expect("text").trim();
        if !current.is_empty() || t.starts_with("sluice ") {
            if let Some(head) = t.strip_suffix('\\') {
                current.push_str(head);
                current.push(' ');
                continue;
            }
            current.push_str(t);
            out.push(
                current
                    .split_whitespace()
                    .skip(1)
                    .map(str::to_string)
                    .collect(),
            );
            current.clear();
        }
    }
    out
}

/// The ConfigMap's files in a temp dir, the flow pointed at a closed local port for its state
/// store and at the temp dir for its work dir. Returns the dir and the flow's path.
fn local_flow(m: &Manifests, key: &str, dir: &Path) -> PathBuf {
    for (k, v) in m.configmap["data"].as_object().expect("data") {
        std::fs::write(dir.join(k), v.as_str().expect("text")).expect("write");
    }
    let flow = &m.flows[key];
    let url = flow["state"]["url"].as_str().expect("url");
    let host_port = url
        .split('@')
        .nth(1)
        .and_then(|h| h.split('/').next())
        .expect("host:port");
    // a port nobody listens on: taken, then let go
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let work_dir = flow["destination"]["work_dir"].as_str().expect("work_dir");
    let text = m.configmap["data"][key].as_str().expect("flow");
    assert!(text.contains(host_port) && text.contains(work_dir));
    let mut text = text
        .replace(host_port, &format!("127.0.0.1:{port}"))
        .replace(work_dir, &dir.join("work").display().to_string());
    // the CA file: sluice reads it with the flow, so it must be a real certificate
    if let Some(ca) = flow["state"]["ca_file"].as_str() {
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=sluice deploy test CA",
            ])
            .arg("-keyout")
            .arg(dir.join("ca.key"))
            .arg("-out")
            .arg(dir.join("ca.crt"))
            .output()
            .expect("openssl (a CA certificate for [state] ca_file)");
        assert!(
            made.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        assert!(text.contains(ca));
        text = text.replace(ca, &dir.join("ca.crt").display().to_string());
    }
    let path = dir.join(key);
    std::fs::write(&path, text).expect("write flow");
    path
}

/// Dummy values for every variable the flow names (sluice works offline with them).
fn dummy_env(flow: &Value) -> Vec<(String, String)> {
    flow_env_refs(flow)
        .into_iter()
        .map(|v| (v, "dummy-value".to_string()))
        .collect()
}

/// Run `words` (sluice's arguments, the flow path replaced) as a dry run: everything up to the
/// state store must be accepted, and the closed port must be where it stops.
fn dry_run_stops_at_the_state_store(origin: &str, words: &[String], env: &[(&str, &str)]) {
    let mut a = words.to_vec();
    a.push("--dry-run".into());
    if !a.iter().any(|w| w == "--json") {
        a.push("--json".into());
    }
    let r = sluice(&a, env);
    let summary: Value = serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("{origin}: one JSON summary ({e}): {}", r.stdout));
    assert_eq!(
        r.code,
        1,
        "{origin}: `sluice {}` should pass the command line and the flow and fail only at the \
         (closed) state store: {summary}\n{}",
        a.join(" "),
        r.stderr
    );
    assert!(
        summary["errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e
                .as_str()
                .is_some_and(|s| s.contains("state store") && s.contains("127.0.0.1")))),
        "{origin}: {summary}"
    );
}

fn replace_flow(words: &[String], flow: &Path) -> Vec<String> {
    words
        .iter()
        .map(|w| {
            if w.ends_with(".toml") {
                flow.display().to_string()
            } else {
                w.clone()
            }
        })
        .collect()
}

#[test]
fn every_sluice_command_of_the_deploy_docs_is_one_the_binary_accepts() {
    let m = manifests();
    let dag = read_dag();
    let docker = dockerfile();
    let mut commands: Vec<(String, Vec<String>)> = vec![
        ("the Job".into(), args(&m.job)),
        ("the CronJob".into(), args(&m.cronjob)),
        ("the Dockerfile's CMD".into(), docker.exec_form("CMD")),
    ];
    for (task, lists) in dag["words"].as_object().expect("words") {
        for words in lists.as_array().expect("commands") {
            let words: Vec<String> = words
                .as_array()
                .expect("words")
                .iter()
                .map(|w| w.as_str().expect("word").to_string())
                .collect();
            assert_eq!(words[0], "sluice", "the DAG runs sluice: {words:?}");
            commands.push((format!("the DAG's {task}"), words[1..].to_vec()));
        }
    }
    let readme = readme_commands();
    assert!(readme.len() >= 3, "the README's sluice lines: {readme:?}");
    for words in readme {
        commands.push(("the README".into(), words));
    }
    assert!(commands.len() >= 10, "{commands:?}");
    for (origin, words) in &commands {
        check_flags(origin, words);
    }

    // `check` accepts the ConfigMap's flow offline, and names exactly the Secret's variables
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, _, parsed) = flow_of(&m, &m.job);
    let flow = local_flow(&m, &key, dir.path());
    let env = dummy_env(parsed);
    let env: Vec<(&str, &str)> = env.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let check = strings(&["check", flow.to_str().expect("utf-8"), "--json"]);
    let r = sluice(&check, &env);
    assert_eq!(r.code, 0, "check: {}{}", r.stdout, r.stderr);
    let summary: Value = serde_json::from_str(r.stdout.trim()).expect("summary");
    assert_eq!(summary["status"], "ok", "{summary}");
    assert_eq!(summary["unset_env"], serde_json::json!([]), "{summary}");
    let r = sluice(&check, &[]);
    assert_eq!(r.code, 0, "check without the secrets: {}", r.stderr);
    let summary: Value = serde_json::from_str(r.stdout.trim()).expect("summary");
    let unset: BTreeSet<String> = summary["unset_env"]
        .as_array()
        .expect("unset_env")
        .iter()
        .map(|v| v.as_str().expect("name").to_string())
        .collect();
    let from_secret = |doc: &Value| -> BTreeSet<String> {
        the_container(doc)["env"]
            .as_array()
            .expect("env")
            .iter()
            .filter(|e| {
                e["valueFrom"]["secretKeyRef"].is_object()
                    && e["valueFrom"]["secretKeyRef"]["optional"] != true
            })
            .map(|e| e["name"].as_str().expect("name").to_string())
            .collect()
    };
    assert!(!unset.is_empty());
    assert_eq!(
        unset,
        from_secret(&m.job),
        "what a run needs = the Job's secrets"
    );
    assert_eq!(
        unset,
        from_secret(&m.cronjob),
        "what a run needs = the CronJob's"
    );

    // the Job's arguments, for every index as Kubernetes expands them, and the CronJob's
    let job = args(&m.job);
    let n: usize = arg_after(&job, "--shard")
        .and_then(|s| s.split_once('/'))
        .and_then(|(_, n)| n.parse().ok())
        .expect("N");
    for index in 0..=n {
        let words: Vec<String> = replace_flow(&job, &flow)
            .iter()
            .map(|w| w.replace("$(JOB_COMPLETION_INDEX)", &index.to_string()))
            .collect();
        if index < n {
            dry_run_stops_at_the_state_store(&format!("the Job's index {index}"), &words, &env);
        } else {
            // no such index: the shard number is checked for real
            let r = sluice(&words, &env);
            assert_eq!(r.code, 2, "--shard {n}/{n}: {}", r.stderr);
            assert!(r.stderr.contains("--shard"), "{}", r.stderr);
        }
    }
    dry_run_stops_at_the_state_store("the CronJob", &replace_flow(&args(&m.cronjob), &flow), &env);

    // the DAG's tasks, with Airflow's templates rendered (the week of 2026-01-04)
    for (task, lists) in dag["words"].as_object().expect("words") {
        for words in lists.as_array().expect("commands") {
            let words: Vec<String> = words
                .as_array()
                .expect("words")
                .iter()
                .skip(1)
                .map(|w| w.as_str().expect("word").to_string())
                .collect();
            let words = replace_flow(&words, &flow);
            if words[0] == "check" {
                let r = sluice(&words, &env);
                assert_eq!(r.code, 0, "the DAG's {task}: {}", r.stderr);
            } else {
                dry_run_stops_at_the_state_store(&format!("the DAG's {task}"), &words, &env);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The DAG

#[test]
fn the_dag_compiles_and_runs_one_task_per_shard_after_a_check_that_is_not_retried() {
    let pyc = tempfile::tempdir().expect("tempdir");
    py(
        "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)",
        &[
            dag_path().to_str().expect("utf-8"),
            pyc.path().join("dag.pyc").to_str().expect("utf-8"),
        ],
    );
    let dag = read_dag();
    let shards = dag["consts"]["SHARDS"].as_u64().expect("SHARDS") as usize;
    assert!(shards >= 2, "{dag}");
    let tasks = dag["tasks"].as_object().expect("tasks");
    let mapped: Vec<(&String, &Value)> =
        tasks.iter().filter(|(_, t)| t["mapped"] == true).collect();
    assert_eq!(mapped.len(), 1, "one mapped shard task: {tasks:?}");
    let (shard_task, t) = mapped[0];
    let words = dag["words"][shard_task].as_array().expect("commands");
    assert_eq!(words.len(), shards, "one command per shard");
    let mut seen = BTreeSet::new();
    for w in words {
        let w: Vec<&str> = w
            .as_array()
            .expect("words")
            .iter()
            .map(|x| x.as_str().expect("word"))
            .collect();
        assert_eq!(&w[..2], ["sluice", "backfill"], "{w:?}");
        let shard = w
            .iter()
            .position(|x| *x == "--shard")
            .map(|i| w[i + 1])
            .expect("--shard");
        let (k, n) = shard.split_once('/').expect("K/N");
        assert_eq!(n.parse::<usize>().ok(), Some(shards), "N = SHARDS: {shard}");
        assert!(
            seen.insert(k.parse::<usize>().expect("K")),
            "shard {k} twice"
        );
        for flag in ["--from", "--to", "--json"] {
            assert!(w.contains(&flag), "{flag}: {w:?}");
        }
        // rendered for the DAG run of 2026-01-04: its week
        let after = |f: &str| w[w.iter().position(|x| *x == f).expect(f) + 1];
        assert_eq!(
            after("--from"),
            "2026-01-04",
            "--from is the run's ds: {w:?}"
        );
        assert_eq!(after("--to"), "2026-01-10", "--to ends its week: {w:?}");
    }
    assert_eq!(seen, (0..shards).collect(), "shards 0..N-1, each once");
    assert!(t["retries"].is_null(), "the shards retry by default_args");
    let retries = dag["default_args"]["retries"].as_u64().expect("retries");
    assert!(retries >= 1, "exit 5 is retried later");
    assert!(
        dag["default_args"]["retry_delay"].is_string(),
        "with a delay: {dag}"
    );

    // the check runs first, once
    let (check_task, check) = tasks
        .iter()
        .find(|(_, t)| t["mapped"] == false)
        .expect("a check task");
    let words = &dag["words"][check_task][0];
    assert_eq!(words[1], "check", "{words}");
    assert_eq!(
        check["retries"].as_u64(),
        Some(0),
        "an invalid flow is not retried"
    );
    assert!(
        dag["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .any(|e| e[0] == check_task.as_str() && e[1] == shard_task.as_str()),
        "{check_task} >> {shard_task}: {dag}"
    );
    assert_eq!(
        dag["consts"]["SLUICE"], "sluice",
        "sluice from the workers' PATH"
    );
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile

/// A `key = "value"` of a TOML table of Cargo.toml, by plain reading.
fn cargo_value(table: &str, key: &str) -> Vec<String> {
    let text = read(&repo().join("Cargo.toml"));
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            current = t.to_string();
            continue;
        }
        if current == table {
            if let Some((k, v)) = t.split_once('=') {
                if k.trim() == key {
                    out.push(v.trim().trim_matches('"').to_string());
                }
            }
        }
    }
    out
}

fn version(v: &str) -> (u32, u32) {
    let mut it = v
        .split('.')
        .map(|p| p.parse::<u32>().expect("a version number"));
    (it.next().expect("major"), it.next().unwrap_or(0))
}

/// Every `include_str!`/`include_bytes!` of the `.rs` files under `dir`, resolved.
fn includes(dir: &Path, out: &mut Vec<(PathBuf, PathBuf)>) {
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            includes(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let text = read(&p);
            for mac in ["include_str!(", "include_bytes!("] {
                for (i, _) in text.match_indices(mac) {
                    let rest = text[i + mac.len()..].trim_start();
                    let Some(lit) = rest.strip_prefix('"') else {
                        continue;
                    };
                    let lit = &lit[..lit.find('"').expect("a closed literal")];
                    let target = p.parent().expect("dir").join(lit);
                    out.push((p.clone(), target));
                }
            }
        }
    }
}

fn cargo_metadata(dir: &Path) -> Value {
    let run = |offline: bool| {
        let mut c = Command::new(env!("CARGO"));
        c.args(["metadata", "--locked", "--format-version", "1"])
            .current_dir(dir);
        if offline {
            c.arg("--offline");
        }
        c.output().expect("cargo ran")
    };
    let mut out = run(true);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() && err.contains("offline") && !err.contains("--locked") {
        // a package this machine has not downloaded yet
        out = run(false);
    }
    assert!(
        out.status.success(),
        "cargo metadata --locked in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("metadata json")
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("mkdir");
        for e in std::fs::read_dir(from).expect("dir").flatten() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::copy(from, to).expect("copy");
    }
}

#[test]
fn the_dockerfile_builds_the_binary_from_what_it_copies() {
    let d = dockerfile();
    let stages = d.stages();
    assert_eq!(stages.len(), 2, "builder and runtime: {:?}", stages);
    let Stage {
        image: builder,
        alias,
        steps,
    } = &stages[0];
    let alias = alias.as_deref().expect("a named builder stage");

    // the builder's Rust is at least the workspace's floor
    let rust = builder
        .strip_prefix("rust:")
        .and_then(|t| t.split('-').next())
        .unwrap_or_else(|| panic!("an official rust image: {builder}"));
    let floor = cargo_value("[workspace.package]", "rust-version");
    assert_eq!(floor.len(), 1, "rust-version in [workspace.package]");
    assert!(
        version(rust) >= version(&floor[0]),
        "rust {rust} < rust-version {}",
        floor[0]
    );
    assert!(
        builder.contains("-bookworm"),
        "the builder's glibc is the runtime's (bookworm = debian12): {builder}"
    );

    // the build
    let runs: Vec<String> = steps
        .iter()
        .filter(|(i, _)| i == "RUN")
        .map(|(_, r)| r.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(
        runs.iter()
            .any(|r| r.contains("cargo build --release --locked --bin sluice")),
        "{runs:?}"
    );
    assert!(
        !runs
            .iter()
            .any(|r| r.contains("libssl") || r.contains("openssl")),
        "no OpenSSL: {runs:?}"
    );
    let workdir = steps
        .iter()
        .rev()
        .find(|(i, _)| i == "WORKDIR")
        .map(|(_, r)| r.clone())
        .expect("a WORKDIR");

    // what is copied in: sources that exist, laid out as in the repository
    let ctx = tempfile::tempdir().expect("tempdir");
    let mut copied: Vec<PathBuf> = Vec::new();
    for (ins, rest) in steps.iter().filter(|(i, _)| i == "COPY" || i == "ADD") {
        assert_eq!(ins, "COPY", "COPY, not ADD");
        let words: Vec<&str> = rest
            .split_whitespace()
            .filter(|w| !w.starts_with("--"))
            .collect();
        let (dest, sources) = words.split_last().expect("COPY src… dest");
        for s in sources {
            let src = repo().join(s.trim_end_matches('/'));
            assert!(src.exists(), "COPY {s}: not in the repository");
            let name = src.file_name().expect("name");
            let to = if dest.ends_with('/') {
                let d = dest.trim_start_matches("./");
                if sources.len() == 1 && src.is_dir() {
                    ctx.path().join(d)
                } else {
                    ctx.path().join(d).join(name)
                }
            } else {
                ctx.path().join(dest)
            };
            assert_eq!(
                to.strip_prefix(ctx.path()).expect("inside"),
                Path::new(s.trim_end_matches('/')),
                "COPY {s} {dest}: laid out as in the repository (cargo's paths are relative)"
            );
            copy_tree(&src, &to);
            copied.push(src);
        }
    }
    let is_copied = |p: &Path| {
        let p = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        copied
            .iter()
            .any(|c| p.starts_with(c.canonicalize().expect("canonical")))
    };
    for needed in ["Cargo.toml", "Cargo.lock", "src"] {
        assert!(is_copied(&repo().join(needed)), "{needed} is not copied");
    }
    for bench in cargo_value("[[bench]]", "name") {
        let p = repo().join("benches").join(format!("{bench}.rs"));
        assert!(
            p.exists() && is_copied(&p),
            "[[bench]] {bench}: {}",
            p.display()
        );
    }
    // every path the sources embed
    let meta = cargo_metadata(&repo());
    let mut embedded = Vec::new();
    for pkg in meta["packages"].as_array().expect("packages") {
        if pkg["source"].is_null() {
            let manifest = PathBuf::from(pkg["manifest_path"].as_str().expect("manifest"));
            let dir = manifest.parent().expect("dir").to_path_buf();
            assert!(
                is_copied(&manifest),
                "workspace member {} is not copied",
                dir.display()
            );
            includes(&dir.join("src"), &mut embedded);
        }
    }
    assert!(!embedded.is_empty(), "sluice init embeds the seed flows");
    for (file, target) in &embedded {
        assert!(
            is_copied(target),
            "{} embeds {}, which the Dockerfile does not copy",
            file.display(),
            target.display()
        );
    }
    // the copy alone is the same workspace, on the same lock
    let alone = cargo_metadata(ctx.path());
    let members = |m: &Value| -> BTreeSet<String> {
        m["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .filter(|p| p["source"].is_null())
            .map(|p| p["name"].as_str().expect("name").to_string())
            .collect()
    };
    assert_eq!(
        members(&alone),
        members(&meta),
        "the same workspace members"
    );
    assert!(!workdir.is_empty());

    // runtime: the binary alone, as the [[bin]] names it, run by a non-root user
    let Stage {
        image: runtime,
        steps: rsteps,
        ..
    } = &stages[1];
    assert!(
        runtime == "gcr.io/distroless/cc-debian12:nonroot" || runtime == "debian:bookworm-slim",
        "{runtime}"
    );
    let bin = cargo_value("[[bin]]", "name");
    assert_eq!(bin, ["sluice"], "the [[bin]] of Cargo.toml");
    let copies: Vec<&String> = rsteps
        .iter()
        .filter(|(i, _)| i == "COPY")
        .map(|(_, r)| r)
        .collect();
    assert_eq!(copies.len(), 1, "only the binary: {copies:?}");
    let words: Vec<&str> = copies[0].split_whitespace().collect();
    assert_eq!(words.len(), 3, "{words:?}");
    assert_eq!(words[0], format!("--from={alias}"));
    assert_eq!(
        words[1],
        format!("{workdir}/target/release/{}", bin[0]),
        "the release binary"
    );
    let entry = d.exec_form("ENTRYPOINT");
    assert_eq!(entry, [words[2]], "ENTRYPOINT is the copied binary");
    assert_eq!(
        Path::new(&entry[0]).file_name().and_then(|f| f.to_str()),
        Some(bin[0].as_str())
    );
    let user = rsteps
        .iter()
        .rev()
        .find(|(i, _)| i == "USER")
        .map(|(_, r)| r.as_str())
        .unwrap_or(if runtime.ends_with(":nonroot") {
            "65532"
        } else {
            "root"
        });
    let uid = user.split(':').next().expect("uid");
    assert!(uid != "0" && uid != "root", "runs as root: USER {user}");
    assert!(
        uid.parse::<u32>().is_ok(),
        "a numeric USER, so runAsNonRoot can be checked: {user}"
    );
}
