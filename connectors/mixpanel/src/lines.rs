//! Sans-IO line decoding of the export body: bytes in (any chunking), complete records out.
//!
//! The endpoint's failure modes are told apart, because they call for different things:
//! - a body that broke (a final `terminated early` line: the server gave up after committing to
//!   a 200; or a body that ends inside a record) means the attempt is incomplete: the caller
//!   pulls the days again;
//! - a record split across two lines is re-joined;
//! - a line that is not an event (not JSON, not an object, `time` not a number, no
//!   `properties`, a numeric `event`) is the server's bad record, the same on every attempt:
//!   it is rejected with its reason and the export goes on;
//! - a line longer than the limit is rejected without being held: memory stays bounded by the
//!   limit whatever the server sends.

use serde::Deserialize;
use sluice_core::RejectedRecord;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StreamError {
    #[error("the export ended with `terminated early`")]
    TerminatedEarly,
    #[error("the export ended inside a record")]
    EndedInsideRecord,
}

/// The fields deduplication and partitioning need, borrowed from the line.
#[derive(Debug, Deserialize)]
pub struct EventKeys<'a> {
    #[serde(borrow)]
    pub event: std::borrow::Cow<'a, str>,
    pub properties: PropertyKeys,
}

#[derive(Debug, Deserialize)]
pub struct PropertyKeys {
    pub time: serde_json::Number,
    #[serde(default)]
    pub distinct_id: Option<serde_json::Value>,
    /// Any JSON value (some SDKs send numbers): it is part of the dedup key as text.
    #[serde(default, rename = "$insert_id")]
    pub insert_id: Option<serde_json::Value>,
}

/// What one line of the body turned out to be.
pub enum Decoded<'a> {
    Event { line: &'a [u8], keys: EventKeys<'a> },
    Rejected(RejectedRecord),
}

/// How much of an oversized line the rejects file keeps, to recognise it by.
const KEPT_OF_OVERSIZED: usize = 4096;

pub struct LineDecoder {
    max_line: usize,
    partial: Vec<u8>,
    /// A line that may be the first half of a split record.
    fragment: Option<Vec<u8>>,
    /// Inside a line longer than `max_line`: its first bytes and its length so far.
    oversized: Option<(Vec<u8>, usize)>,
    /// Nothing was fed yet: a byte-order mark at the start is not part of a record.
    at_start: bool,
}

enum Parsed<'a> {
    Event(EventKeys<'a>),
    /// Cut short: maybe the first half of a split record.
    Incomplete,
    Bad(String),
}

fn parse(line: &[u8]) -> Parsed<'_> {
    let mut de = serde_json::Deserializer::from_slice(line);
    match serde_path_to_error::deserialize::<_, EventKeys<'_>>(&mut de) {
        Ok(keys) => match de.end() {
            Ok(()) => Parsed::Event(keys),
            Err(e) => Parsed::Bad(format!("not one JSON event: {e}")),
        },
        Err(e) if e.inner().is_eof() => Parsed::Incomplete,
        Err(e) if e.inner().is_syntax() => Parsed::Bad(format!("not JSON: {}", e.inner())),
        Err(e) => {
            let path = e.path().to_string();
            let at = if path == "." {
                String::new()
            } else {
                format!("`{path}`: ")
            };
            Parsed::Bad(format!(
                "not an event of the export (`event` text, `properties.time` a number): \
                 {at}{}",
                e.inner()
            ))
        }
    }
}

impl LineDecoder {
    /// A decoder that rejects lines longer than `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        Self {
            max_line: max_line.max(1),
            partial: Vec::new(),
            fragment: None,
            oversized: None,
            at_start: true,
        }
    }

    /// Feed bytes; `emit` gets each record line (without its newline) or rejected line.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        emit: &mut dyn FnMut(Decoded<'_>),
    ) -> Result<(), StreamError> {
        let mut rest = chunk;
        if self.at_start && !rest.is_empty() {
            self.at_start = false;
            rest = rest.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(rest);
        }
        while !rest.is_empty() {
            let newline = memchr::memchr(b'\n', rest);
            let (head, tail) = match newline {
                Some(pos) => (&rest[..pos], &rest[pos + 1..]),
                None => (rest, &b""[..]),
            };
            rest = tail;
            if let Some((kept, len)) = self.oversized.as_mut() {
                *len += head.len();
                if newline.is_some() {
                    let (kept, len) = (std::mem::take(kept), *len);
                    self.oversized = None;
                    self.reject_oversized(kept, len, emit);
                }
                continue;
            }
            if self.partial.len() + head.len() > self.max_line {
                let len = self.partial.len() + head.len();
                let mut kept = std::mem::take(&mut self.partial);
                kept.extend_from_slice(&head[..head.len().min(KEPT_OF_OVERSIZED)]);
                kept.truncate(KEPT_OF_OVERSIZED);
                if newline.is_some() {
                    self.reject_oversized(kept, len, emit);
                } else {
                    self.oversized = Some((kept, len));
                }
                continue;
            }
            match newline {
                Some(_) if self.partial.is_empty() => self.line(head, emit)?,
                Some(_) => {
                    let mut line = std::mem::take(&mut self.partial);
                    line.extend_from_slice(head);
                    self.line(&line, emit)?;
                }
                None => self.partial.extend_from_slice(head),
            }
        }
        Ok(())
    }

    /// The body ended: whatever is left must be a complete record.
    pub fn finish(&mut self, emit: &mut dyn FnMut(Decoded<'_>)) -> Result<(), StreamError> {
        if self.oversized.is_some() {
            return Err(StreamError::EndedInsideRecord);
        }
        let last = std::mem::take(&mut self.partial);
        if last.iter().all(u8::is_ascii_whitespace) {
            // the body ended at a line's end: a half record left over is a bad line of the
            // server's (the same on every attempt), not a cut body
            if let Some(fragment) = self.fragment.take() {
                emit(Decoded::Rejected(RejectedRecord {
                    record: fragment,
                    reason: "not JSON: the body's last line is an incomplete record".into(),
                }));
            }
            return Ok(());
        }
        self.line(&last, emit)?;
        if self.fragment.is_some() {
            return Err(StreamError::EndedInsideRecord);
        }
        Ok(())
    }

    fn reject_oversized(&self, kept: Vec<u8>, len: usize, emit: &mut dyn FnMut(Decoded<'_>)) {
        emit(Decoded::Rejected(RejectedRecord {
            record: kept,
            reason: format!(
                "a line of {len} bytes is longer than max_page_bytes ({} bytes); only its first \
                 {KEPT_OF_OVERSIZED} bytes are kept here. Raise [connection] max_page_bytes and \
                 backfill its day to load it",
                self.max_line
            ),
        }));
    }

    fn line(&mut self, raw: &[u8], emit: &mut dyn FnMut(Decoded<'_>)) -> Result<(), StreamError> {
        let line = raw.trim_ascii();
        if line.is_empty() {
            return Ok(());
        }
        if line == b"terminated early" {
            return Err(StreamError::TerminatedEarly);
        }
        if let Some(mut joined) = self.fragment.take() {
            let first_len = joined.len();
            joined.extend_from_slice(line);
            if let Parsed::Event(keys) = parse(&joined) {
                emit(Decoded::Event {
                    line: &joined,
                    keys,
                });
                return Ok(());
            }
            // the fragment was a bad line of its own; this line stands alone
            joined.truncate(first_len);
            emit(Decoded::Rejected(RejectedRecord {
                record: joined,
                reason: "not JSON: a line cut short that the next line does not complete".into(),
            }));
        }
        match parse(line) {
            Parsed::Event(keys) => emit(Decoded::Event { line, keys }),
            Parsed::Incomplete => self.fragment = Some(line.to_vec()),
            Parsed::Bad(reason) => emit(Decoded::Rejected(RejectedRecord {
                record: line.to_vec(),
                reason,
            })),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Event lines and (rejected record, reason) pairs, in order.
    type Out = (Vec<String>, Vec<(String, String)>);

    fn decode_with(max: usize, chunks: &[&[u8]]) -> Result<Out, StreamError> {
        let mut d = LineDecoder::new(max);
        let mut events = Vec::new();
        let mut rejected = Vec::new();
        let mut emit = |item: Decoded<'_>| match item {
            Decoded::Event { line, keys } => {
                assert!(!keys.event.is_empty());
                events.push(String::from_utf8_lossy(line).into_owned());
            }
            Decoded::Rejected(r) => {
                rejected.push((String::from_utf8_lossy(&r.record).into_owned(), r.reason))
            }
        };
        for c in chunks {
            d.feed(c, &mut emit)?;
        }
        d.finish(&mut emit)?;
        Ok((events, rejected))
    }

    fn decode(chunks: &[&[u8]]) -> Result<Vec<String>, StreamError> {
        let (events, rejected) = decode_with(1 << 20, chunks)?;
        assert!(rejected.is_empty(), "{rejected:?}");
        Ok(events)
    }

    const A: &str = r#"{"event":"Sign in","properties":{"time":1714521600,"distinct_id":"u1","$insert_id":"a"}}"#;
    const B: &str = r#"{"event":"Page view","properties":{"time":1714521601.5,"distinct_id":7}}"#;

    #[test]
    fn any_chunking_gives_the_same_records() {
        let body = format!("{A}\n\n{B}\n");
        let whole = decode(&[body.as_bytes()]).expect("decodes");
        assert_eq!(whole, [A, B]);
        for cut in 1..body.len() {
            let (x, y) = body.as_bytes().split_at(cut);
            assert_eq!(decode(&[x, y]).expect("decodes"), whole, "cut at {cut}");
        }
        // no final newline
        assert_eq!(
            decode(&[format!("{A}\n{B}").as_bytes()]).expect("decodes"),
            whole
        );
    }

    #[test]
    fn a_record_split_across_two_lines_is_rejoined() {
        let (x, y) = A.split_at(30);
        let body = format!("{x}\n{y}\n{B}\n");
        assert_eq!(decode(&[body.as_bytes()]).expect("decodes"), [A, B]);
    }

    #[test]
    fn a_broken_body_is_an_error() {
        let early = format!("{A}\nterminated early\n");
        assert_eq!(
            decode(&[early.as_bytes()]),
            Err(StreamError::TerminatedEarly)
        );
        let cut = format!("{A}\n{}", &B[..20]);
        assert_eq!(
            decode(&[cut.as_bytes()]),
            Err(StreamError::EndedInsideRecord)
        );
    }

    #[test]
    fn a_bom_a_numeric_insert_id_and_a_bad_last_line_are_the_servers_not_a_broken_body() {
        let numeric = r#"{"event":"n","properties":{"time":1,"$insert_id":12345}}"#;
        let body = format!("\u{FEFF}{A}\n{numeric}\n{}\n", &B[..20]);
        let (events, rejected) = decode_with(1 << 20, &[body.as_bytes()]).expect("decodes");
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0], A, "the BOM is not part of the first record");
        assert_eq!(
            rejected.len(),
            1,
            "the half record before the end is rejected"
        );
        assert!(rejected[0].1.contains("last line"), "{}", rejected[0].1);
    }

    #[test]
    fn issue9_a_line_that_is_not_an_event_is_rejected_with_its_reason() {
        let bad = [
            (
                r#"{"event":"x","properties":{"time":"1700000000"}}"#,
                "`properties.time`",
            ),
            (r#"{"event":"x","properties":{"distinct_id":"u"}}"#, "time"),
            (r#"{"event":"x"}"#, "properties"),
            (r#"{"event":42,"properties":{"time":1}}"#, "`event`"),
            ("[1,2,3]", "not an event"),
            ("this is not json", "not JSON"),
            (
                r#"{"event":"x","properties":{"time":1}} trailing"#,
                "not one JSON event",
            ),
        ];
        let mut body = format!("{A}\n");
        for (line, _) in &bad {
            body.push_str(line);
            body.push('\n');
        }
        body.push_str(B);
        let (events, rejected) = decode_with(1 << 20, &[body.as_bytes()]).expect("decodes");
        assert_eq!(events, [A, B], "good events on both sides survive");
        assert_eq!(rejected.len(), bad.len(), "{rejected:?}");
        for ((record, reason), (line, says)) in rejected.iter().zip(bad) {
            assert_eq!(record, line);
            assert!(reason.contains(says), "{line}: {reason}");
        }
    }

    #[test]
    fn a_cut_line_the_next_one_does_not_complete_is_rejected_alone() {
        let body = format!("{{\"event\":\"x\",\"prop\n{A}\n");
        let (events, rejected) = decode_with(1 << 20, &[body.as_bytes()]).expect("decodes");
        assert_eq!(events, [A]);
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].0, "{\"event\":\"x\",\"prop");
    }

    #[test]
    fn issue9_an_oversized_line_is_rejected_without_being_held() {
        let huge = "x".repeat(100_000);
        let body = format!("{A}\n{huge}\n{B}\n");
        // fed in small chunks, as a stream arrives: the decoder never holds the whole line
        let chunks: Vec<&[u8]> = body.as_bytes().chunks(1000).collect();
        let (events, rejected) = decode_with(10_000, &chunks).expect("decodes");
        assert_eq!(events, [A, B]);
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].0.len(), KEPT_OF_OVERSIZED);
        assert!(
            rejected[0].1.contains("100000 bytes") && rejected[0].1.contains("max_page_bytes"),
            "{}",
            rejected[0].1
        );
        assert_eq!(
            decode_with(10_000, &[format!("{A}\n{huge}").as_bytes()]).err(),
            Some(StreamError::EndedInsideRecord),
            "a body that ends inside an oversized line is cut"
        );
    }
}
