//! `sluice sandbox` and the in-process sandbox behind `--sandbox`.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use clap::Args;
use serde_json::Value;
use sluice_core::{Param, Secret};
use sluice_runner::Overrides;

use super::output::out;
use sluice_sandbox::{credentials, ExportOrder, FaultPlan, QuotaSpec, Sandbox, SandboxConfig};

use super::{EXIT_FAILED, EXIT_INVALID};

#[derive(Args)]
pub struct SandboxArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8089)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// Data set size per vendor: `zendesk=60000` (users), `mixpanel=5000` (events a day),
    /// `pinterest=650` (ads of the main ad account).
    #[arg(long = "size", value_name = "VENDOR=N")]
    sizes: Vec<String>,
    /// Replace all of a vendor's quotas with one, e.g. `zendesk=100/60` (COUNT/SECONDS).
    #[arg(long = "quota", value_name = "VENDOR=COUNT/SECONDS")]
    quotas: Vec<String>,
    /// Faults to inject, e.g. `429x5@3,503@9,truncate@12,expire-cursor@4`.
    #[arg(long, default_value = "")]
    faults: String,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Order of Zendesk's export results by `created_at`.
    #[arg(long, value_parser = ["asc", "desc"], default_value = "asc")]
    zendesk_order: String,
}

fn config(args: &SandboxArgs) -> Result<SandboxConfig, String> {
    let mut cfg = SandboxConfig::default();
    cfg.zendesk.seed = args.seed;
    cfg.pinterest.seed = args.seed;
    cfg.linkedin.seed = args.seed;
    cfg.zendesk.order = if args.zendesk_order == "desc" {
        ExportOrder::Descending
    } else {
        ExportOrder::Ascending
    };
    for s in &args.sizes {
        let (vendor, n) = s
            .split_once('=')
            .ok_or_else(|| format!("--size {s}: expected VENDOR=N"))?;
        let n: u64 = n
            .parse()
            .map_err(|_| format!("--size {s}: N must be a number"))?;
        match vendor {
            "zendesk" => cfg.zendesk.users = n,
            "mixpanel" => cfg.mixpanel.events_per_day = n,
            "pinterest" => cfg.pinterest.ads = n,
            other => {
                return Err(format!(
                    "--size: unknown vendor `{other}` (known: zendesk, mixpanel, pinterest)"
                ))
            }
        }
    }
    for q in &args.quotas {
        let (vendor, spec) = q
            .split_once('=')
            .ok_or_else(|| format!("--quota {q}: expected VENDOR=COUNT/SECONDS"))?;
        let spec = QuotaSpec::parse("quota", spec)?;
        match vendor {
            "zendesk" => cfg.zendesk.quota = Some(spec),
            "mixpanel" => cfg.mixpanel.quota = Some(spec),
            // one window in place of the universal, category and daily buckets
            "pinterest" => cfg.pinterest.quota = Some(spec),
            other => {
                return Err(format!(
                    "--quota: unknown vendor `{other}` (known: zendesk, mixpanel, pinterest)"
                ))
            }
        }
    }
    cfg.faults = FaultPlan::parse(&args.faults)?;
    Ok(cfg)
}

pub async fn serve(args: SandboxArgs) -> u8 {
    let cfg = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            return EXIT_INVALID;
        }
    };
    let addr: SocketAddr = match format!("{}:{}", args.bind, args.port).parse() {
        Ok(a) => a,
        Err(e) => {
            crate::cli::print_error(&format!("--bind/--port: {e}"));
            return EXIT_INVALID;
        }
    };
    let sandbox = match Sandbox::start(addr, cfg).await {
        Ok(s) => s,
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            return EXIT_FAILED;
        }
    };
    out!("sandbox listening on {}", sandbox.base_url());
    out!(
        "  zendesk:  {}/api/v2/search/export.json (email {}, api_token {})",
        sandbox.base_url(),
        credentials::ZENDESK_EMAIL,
        credentials::ZENDESK_API_TOKEN
    );
    out!(
        "  mixpanel: {}/api/2.0/export (Basic: any service account with project_id, or any project secret)",
        sandbox.base_url()
    );
    out!(
        "  pinterest: {}/v5 (Bearer {}; refresh at /v5/oauth/token with client {}; ad account {})",
        sandbox.base_url(),
        credentials::PINTEREST_ACCESS_TOKEN,
        credentials::PINTEREST_CLIENT_ID,
        credentials::PINTEREST_AD_ACCOUNT_ID
    );
    out!(
        "  linkedin: {}/rest (Bearer {}; refresh at /oauth/v2/accessToken with client {}; ad accounts {})",
        sandbox.base_url(),
        credentials::LINKEDIN_ACCESS_TOKEN,
        credentials::LINKEDIN_CLIENT_ID,
        credentials::LINKEDIN_ACCOUNT_IDS.join(", ")
    );
    out!("  stats:    {}/_sandbox/stats", sandbox.base_url());
    let base = sandbox.base_url();
    out!();
    out!("To point a flow here (`sluice init CONNECTOR` writes one), set in its [connection]:");
    out!("  base_url = \"{base}\"   (instead of subdomain for zendesk)");
    out!("  linkedin also: token_url = \"{base}/oauth/v2/accessToken\"");
    out!("and export what its ${{…}} references name:");
    out!(
        "  export ZENDESK_EMAIL={} ZENDESK_API_TOKEN={}",
        credentials::ZENDESK_EMAIL,
        credentials::ZENDESK_API_TOKEN
    );
    out!("  export MIXPANEL_USERNAME=sandbox.user MIXPANEL_SECRET=any-secret");
    out!(
        "  export PINTEREST_REFRESH_TOKEN={} PINTEREST_CLIENT_ID={} PINTEREST_CLIENT_SECRET={}",
        credentials::PINTEREST_REFRESH_TOKEN,
        credentials::PINTEREST_CLIENT_ID,
        credentials::PINTEREST_CLIENT_SECRET
    );
    out!(
        "  export LINKEDIN_REFRESH_TOKEN={} LINKEDIN_CLIENT_ID={} LINKEDIN_CLIENT_SECRET={}",
        credentials::LINKEDIN_REFRESH_TOKEN,
        credentials::LINKEDIN_CLIENT_ID,
        credentials::LINKEDIN_CLIENT_SECRET
    );
    out!("(or skip all of this: `sluice run FLOW.toml --sandbox` starts its own)");
    let _ = tokio::signal::ctrl_c().await;
    0
}

/// Start a sandbox on a free port for one command; `quota` (count, seconds) replaces every
/// simulator's quotas, as `sluice sandbox --quota` does.
pub async fn start_local(quota: Option<(u32, u64)>) -> Result<Sandbox, String> {
    let mut config = SandboxConfig::default();
    if let Some((count, secs)) = quota {
        config.zendesk.quota = Some(QuotaSpec::new("quota", count, secs));
        config.mixpanel.quota = Some(QuotaSpec::new("quota", count, secs));
        config.pinterest.quota = Some(QuotaSpec::new("quota", count, secs));
    }
    Sandbox::start(([127, 0, 0, 1], 0).into(), config)
        .await
        .map_err(|e| e.to_string())
}

/// The overrides that point a flow of `connector` at `sandbox`, with sandbox credentials.
pub fn overrides_for(sandbox: &Sandbox, connector: &str) -> Result<Overrides, String> {
    let mut connection = BTreeMap::new();
    connection.insert(
        "base_url".to_string(),
        Some(Param::Plain(Value::String(sandbox.base_url()))),
    );
    connection.insert("subdomain".to_string(), None);
    match connector {
        "zendesk" => {
            connection.insert(
                "email".into(),
                Some(Param::Plain(Value::String(
                    credentials::ZENDESK_EMAIL.into(),
                ))),
            );
            connection.insert(
                "api_token".into(),
                Some(Param::Secret(Secret::new(credentials::ZENDESK_API_TOKEN))),
            );
            connection.insert("access_token".into(), None);
        }
        "mixpanel" => {
            // a project secret: the sandbox needs no project_id for it
            connection.insert(
                "api_secret".into(),
                Some(Param::Secret(Secret::new(credentials::MIXPANEL_SECRET))),
            );
            connection.insert("username".into(), None);
            connection.insert("secret".into(), None);
            connection.insert("region".into(), None);
        }
        "pinterest" => {
            // `token_url` stays: the connector defaults it to `{base_url}/v5/oauth/token`
            connection.insert(
                "access_token".into(),
                Some(Param::Secret(Secret::new(
                    credentials::PINTEREST_ACCESS_TOKEN,
                ))),
            );
            connection.insert(
                "refresh_token".into(),
                Some(Param::Secret(Secret::new(
                    credentials::PINTEREST_REFRESH_TOKEN,
                ))),
            );
            connection.insert(
                "client_id".into(),
                Some(Param::Secret(Secret::new(credentials::PINTEREST_CLIENT_ID))),
            );
            connection.insert(
                "client_secret".into(),
                Some(Param::Secret(Secret::new(
                    credentials::PINTEREST_CLIENT_SECRET,
                ))),
            );
        }
        "linkedin" => {
            // the token endpoint lives on another host at LinkedIn: here, on the sandbox
            connection.insert(
                "token_url".into(),
                Some(Param::Plain(Value::String(format!(
                    "{}/oauth/v2/accessToken",
                    sandbox.base_url()
                )))),
            );
            for (key, value) in [
                ("access_token", credentials::LINKEDIN_ACCESS_TOKEN),
                ("refresh_token", credentials::LINKEDIN_REFRESH_TOKEN),
                ("client_id", credentials::LINKEDIN_CLIENT_ID),
                ("client_secret", credentials::LINKEDIN_CLIENT_SECRET),
            ] {
                connection.insert(key.into(), Some(Param::Secret(Secret::new(value))));
            }
        }
        other => {
            return Err(format!(
                "the sandbox has no simulator for connector `{other}`"
            ))
        }
    }
    Ok(Overrides {
        connection,
        ..Overrides::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sandbox: SandboxArgs,
    }

    fn config_of(args: &[&str]) -> Result<SandboxConfig, String> {
        let cli = Cli::try_parse_from([&["sandbox"], args].concat()).map_err(|e| e.to_string())?;
        config(&cli.sandbox)
    }

    #[tokio::test]
    async fn pinterest_flows_get_the_sandbox_url_and_credentials() {
        let sandbox = start_local(None).await.expect("sandbox");
        let o = overrides_for(&sandbox, "pinterest").expect("overrides");
        let text = |k: &str| match o.connection.get(k) {
            Some(Some(Param::Plain(Value::String(s)))) => s.clone(),
            Some(Some(Param::Secret(s))) => s.expose().to_string(),
            other => panic!("{k}: {other:?}"),
        };
        assert_eq!(text("base_url"), sandbox.base_url());
        assert_eq!(text("access_token"), credentials::PINTEREST_ACCESS_TOKEN);
        assert_eq!(text("refresh_token"), credentials::PINTEREST_REFRESH_TOKEN);
        assert_eq!(text("client_id"), credentials::PINTEREST_CLIENT_ID);
        assert_eq!(text("client_secret"), credentials::PINTEREST_CLIENT_SECRET);
        assert!(!o.connection.contains_key("token_url"));
    }

    #[test]
    fn sizes_and_quotas_apply_per_vendor_and_unknown_vendors_are_named() {
        let cfg = config_of(&["--size", "mixpanel=9", "--quota", "mixpanel=50/1"]).expect("config");
        assert_eq!(cfg.mixpanel.events_per_day, 9);
        assert!(cfg.mixpanel.quota.is_some());
        assert!(cfg.zendesk.quota.is_none());
        let cfg = config_of(&["--quota", "zendesk=100/60"]).expect("config");
        assert!(cfg.zendesk.quota.is_some() && cfg.mixpanel.quota.is_none());
        let err = config_of(&["--quota", "linkedin=1/1"])
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("`linkedin`") && err.contains("pinterest"),
            "{err}"
        );
        let cfg =
            config_of(&["--size", "pinterest=900", "--quota", "pinterest=10/1"]).expect("config");
        assert_eq!(cfg.pinterest.ads, 900);
        assert_eq!(cfg.pinterest.quota.as_ref().map(|q| q.limit), Some(10));
        assert!(cfg.zendesk.quota.is_none());
        assert!(config_of(&["--quota", "mixpanel"]).is_err());
    }
}
