//! Record schemas, in the explore `data[]` shape: `meta`, `links` and one `results` item.
//!
//! Where the seed's explore schema disagrees with the real API, the real API wins:
//! `external_id` and `role` are strings (the seed says integer), and `photo` is an attachment
//! object or null (the seed says string), kept as JSON text.

use sluice_core::{FieldType, SchemaField, StreamSchema};

fn f(name: &str, ty: FieldType) -> SchemaField {
    SchemaField::new(name, ty)
}

fn envelope(results: Vec<SchemaField>) -> StreamSchema {
    use FieldType::*;
    StreamSchema {
        fields: vec![
            f(
                "meta",
                Object {
                    fields: vec![
                        f("has_more", Boolean),
                        f("after_cursor", String),
                        f("before_cursor", String),
                    ],
                },
            ),
            f(
                "links",
                Object {
                    fields: vec![f("prev", String), f("next", String)],
                },
            ),
            f("results", Object { fields: results }),
        ],
        open: false,
    }
}

pub fn users() -> StreamSchema {
    use FieldType::*;
    let strings = |names: &[&str]| names.iter().map(|n| f(n, String)).collect::<Vec<_>>();
    let mut results = vec![
        f("id", Integer),
        f("organization_id", Integer),
        f("role_type", Integer),
        f("custom_role_id", Integer),
        f("default_group_id", Integer),
        f("locale_id", Integer),
    ];
    results.extend(strings(&[
        "url",
        "name",
        "email",
        "created_at",
        "updated_at",
        "time_zone",
        "iana_time_zone",
        "phone",
        "locale",
        "role",
        "external_id",
        "alias",
        "last_login_at",
        "signature",
        "details",
        "notes",
        "ticket_restriction",
        "result_type",
    ]));
    for b in [
        "shared_phone_number",
        "verified",
        "active",
        "shared",
        "shared_agent",
        "two_factor_auth_enabled",
        "moderator",
        "only_private_comments",
        "restricted_agent",
        "suspended",
        "report_csv",
    ] {
        results.push(f(b, Boolean));
    }
    results.push(f(
        "tags",
        Array {
            items: Box::new(String),
        },
    ));
    results.push(f("photo", Json));
    results.push(f("user_fields", Json));
    envelope(results)
}
