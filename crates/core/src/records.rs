//! A page's records, in the layout that costs the connector least.
//!
//! Most APIs send a page as one JSON document: a list of items plus a few fields about the page
//! (Zendesk's `meta` and `links`). The seeds' record shape is one item *with* those page fields,
//! so copying every item into its own line would copy the whole response and parse it twice.
//! [`Records::Framed`] keeps the response body and says where each item is; the mapper reads
//! the page fields once per page and each item once.

use std::fmt;
use std::ops::Range;

use bytes::Bytes;

/// The records of one page.
pub enum Records {
    /// Newline-delimited JSON, one record per line, in the stream's record shape.
    Lines(Vec<u8>),
    /// Items of one response body, each read as the object
    /// `{<shared members>…, "<key>": <item>}`.
    Framed(Framed),
}

impl Default for Records {
    fn default() -> Self {
        Records::Lines(Vec::new())
    }
}

impl fmt::Debug for Records {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Records::Lines(l) => write!(f, "Lines({} bytes)", l.len()),
            Records::Framed(x) => write!(
                f,
                "Framed({} items of a {}-byte body under `{}`)",
                x.items.len(),
                x.body.len(),
                x.key
            ),
        }
    }
}

impl Records {
    pub fn is_empty(&self) -> bool {
        match self {
            Records::Lines(l) => l.iter().all(u8::is_ascii_whitespace),
            Records::Framed(x) => x.items.is_empty(),
        }
    }

    /// Each record as one line of JSON (framed items are assembled: for samples and messages,
    /// not for the hot path).
    pub fn for_each_line(&self, mut f: impl FnMut(&[u8]) -> bool) {
        match self {
            Records::Lines(l) => {
                for line in l.split(|b| *b == b'\n') {
                    if !line.iter().all(u8::is_ascii_whitespace) && !f(line) {
                        return;
                    }
                }
            }
            Records::Framed(x) => {
                for i in 0..x.items.len() {
                    if !f(&x.line(i)) {
                        return;
                    }
                }
            }
        }
    }
}

/// Items that are slices of one response body.
#[derive(Clone)]
pub struct Framed {
    pub body: Bytes,
    /// Each item's bytes in `body`, in order.
    pub items: Vec<Range<usize>>,
    /// The members every record carries besides its item: a key and the range of its raw JSON
    /// value in `body`, in order.
    pub shared: Vec<(String, Range<usize>)>,
    /// The member each item sits under.
    pub key: String,
}

impl Framed {
    /// Record `i` as the JSON object the mapper reads.
    pub fn line(&self, i: usize) -> Vec<u8> {
        let member = |out: &mut Vec<u8>, key: &str, raw: &[u8]| {
            out.extend_from_slice(
                serde_json::to_string(key)
                    .unwrap_or_else(|_| format!("\"{key}\""))
                    .as_bytes(),
            );
            out.push(b':');
            out.extend_from_slice(raw);
        };
        let mut out = vec![b'{'];
        for (key, range) in &self.shared {
            member(&mut out, key, &self.body[range.clone()]);
            out.push(b',');
        }
        let item = self
            .items
            .get(i)
            .map_or(&b"null"[..], |r| &self.body[r.clone()]);
        member(&mut out, &self.key, item);
        out.push(b'}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_framed_item_reads_as_the_record_shape() {
        let body = Bytes::from_static(br#"{"results":[{"id":1},{"id":2}],"meta":{"m":true}}"#);
        let framed = Framed {
            items: vec![12..20, 21..29],
            shared: vec![("meta".into(), 38..48)],
            key: "results".into(),
            body,
        };
        assert_eq!(framed.line(1), br#"{"meta":{"m":true},"results":{"id":2}}"#);
        let mut lines = Vec::new();
        Records::Framed(framed).for_each_line(|l| {
            lines.push(String::from_utf8_lossy(l).into_owned());
            true
        });
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], r#"{"meta":{"m":true},"results":{"id":1}}"#);
        assert!(Records::Lines(b"\n \n".to_vec()).is_empty());
    }
}
