//! Which columns get Parquet dictionary encoding, decided from a file's first batch.
//!
//! Dictionary encoding pays when values repeat (a role, a locale, a country) and costs a hash
//! and a comparison per value when they do not (ids, emails, timestamps): the writer interns every
//! value until the dictionary outgrows its page limit, then throws the work away. Like DuckDB's
//! and Spark's writers, sluice looks at the data first: a column whose first batch is mostly
//! distinct is written plain.

use std::collections::HashSet;
use std::hash::Hash;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::schema::types::ColumnPath;

/// Below this many non-null values a batch says too little about a column: keep the default.
const MIN_SAMPLE: usize = 100;

/// A column is written plain when more than this share of its sampled values is distinct.
const PLAIN_ABOVE: f64 = 0.5;

/// Rows of the first batch looked at: enough to tell ids from categories, cheap whatever the
/// batch size.
const SAMPLE_ROWS: usize = 2048;

/// Leaf columns (dot paths, as Parquet names them) whose values in `batch` are mostly distinct.
pub fn mostly_distinct_columns(batch: &RecordBatch) -> Vec<ColumnPath> {
    let mut out = Vec::new();
    let sample = batch.slice(0, batch.num_rows().min(SAMPLE_ROWS));
    for (field, array) in sample.schema().fields().iter().zip(sample.columns()) {
        visit(vec![field.name().clone()], array, &mut out);
    }
    out
}

fn visit(path: Vec<String>, array: &ArrayRef, out: &mut Vec<ColumnPath>) {
    if let DataType::Struct(fields) = array.data_type() {
        let array = array.as_struct();
        for (f, child) in fields.iter().zip(array.columns()) {
            let mut p = path.clone();
            p.push(f.name().clone());
            visit(p, child, out);
        }
        return;
    }
    let distinct = match array.data_type() {
        DataType::Utf8 => share_distinct(array.as_string::<i32>().iter()),
        DataType::Int64 => share_distinct(array.as_primitive::<Int64Type>().iter()),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            share_distinct(array.as_primitive::<TimestampMicrosecondType>().iter())
        }
        DataType::Float64 => share_distinct(
            array
                .as_primitive::<Float64Type>()
                .iter()
                .map(|v| v.map(f64::to_bits)),
        ),
        // booleans are run-length encoded anyway; lists keep the default
        _ => None,
    };
    if distinct.is_some_and(|d| d > PLAIN_ABOVE) {
        out.push(ColumnPath::new(path));
    }
}

/// The share of distinct values among the non-null ones, when there are enough to judge.
fn share_distinct<T: Hash + Eq>(values: impl Iterator<Item = Option<T>>) -> Option<f64> {
    let mut seen = HashSet::new();
    let mut count = 0usize;
    for v in values.flatten() {
        count += 1;
        seen.insert(v);
    }
    (count >= MIN_SAMPLE).then(|| seen.len() as f64 / count as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray, StructArray};
    use arrow_schema::{Field, Schema};
    use std::sync::Arc;

    #[test]
    fn unique_columns_are_plain_and_repeating_ones_keep_the_dictionary() {
        let n = 1000;
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n));
        let roles: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..n).map(|i| ["admin", "agent", "end-user"][i as usize % 3]),
        ));
        let emails: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..n).map(|i| format!("u{i}@example.com")),
        ));
        let few: ArrayRef = Arc::new(Int64Array::from(
            (0..n).map(|i| (i < 10).then_some(i)).collect::<Vec<_>>(),
        ));
        let inner = StructArray::from(vec![
            (Arc::new(Field::new("email", DataType::Utf8, true)), emails),
            (Arc::new(Field::new("role", DataType::Utf8, true)), roles),
        ]);
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("user", inner.data_type().clone(), true),
            Field::new("few", DataType::Int64, true),
        ]);
        let batch =
            RecordBatch::try_new(Arc::new(schema), vec![ids, Arc::new(inner), few]).expect("batch");
        let plain: Vec<String> = mostly_distinct_columns(&batch)
            .iter()
            .map(|p| p.string())
            .collect();
        assert_eq!(
            plain,
            ["id", "user.email"],
            "ten values say nothing about `few`"
        );
    }
}
