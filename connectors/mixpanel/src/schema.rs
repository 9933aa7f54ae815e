//! The raw export's record: `{event, properties: {time, distinct_id, $insert_id, …}}`. The
//! properties object is open: projects add custom properties at will.

use sluice_core::{FieldType, SchemaField, StreamSchema};

pub fn events() -> StreamSchema {
    use FieldType::*;
    let f = SchemaField::new;
    StreamSchema {
        fields: vec![
            f("event", String),
            f(
                "properties",
                Open {
                    fields: vec![
                        f("time", Timestamp),
                        f("distinct_id", String),
                        f("$insert_id", String),
                        f("mp_processing_time_ms", Integer),
                        f("$mp_api_endpoint", String),
                        f("$mp_api_timestamp_ms", Integer),
                        f("$import", Boolean),
                    ],
                },
            ),
        ],
        open: false,
    }
}
