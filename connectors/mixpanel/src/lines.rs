//! Sans-IO line decoding of the export body: bytes in (any chunking), complete records out.
//! Handles the endpoint's failure modes: a final `terminated early` line (the server gave up
//! after committing to a 200), a record split across two lines (re-joined), and a body that
//! ends inside a record.

use serde::Deserialize;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StreamError {
    #[error("the export ended with `terminated early`")]
    TerminatedEarly,
    #[error("the export ended inside a record")]
    EndedInsideRecord,
    #[error("malformed record in the export: {0}")]
    Malformed(String),
}

/// The fields deduplication and partitioning need, borrowed from the line.
#[derive(Debug, Deserialize)]
pub struct EventKeys<'a> {
    #[serde(borrow)]
    pub event: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pub properties: PropertyKeys<'a>,
}

#[derive(Debug, Deserialize)]
pub struct PropertyKeys<'a> {
    pub time: serde_json::Number,
    #[serde(default)]
    pub distinct_id: Option<serde_json::Value>,
    #[serde(borrow, default, rename = "$insert_id")]
    pub insert_id: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Default)]
pub struct LineDecoder {
    partial: Vec<u8>,
    /// A line that was the first half of a split record.
    fragment: Option<Vec<u8>>,
}

fn parse(line: &[u8]) -> Result<EventKeys<'_>, serde_json::Error> {
    serde_json::from_slice(line)
}

impl LineDecoder {
    /// Feed bytes; `emit` gets each complete record line (without its newline).
    pub fn feed(
        &mut self,
        chunk: &[u8],
        emit: &mut dyn FnMut(&[u8], EventKeys<'_>),
    ) -> Result<(), StreamError> {
        let mut rest = chunk;
        while let Some(pos) = rest.iter().position(|b| *b == b'\n') {
            let (head, tail) = rest.split_at(pos);
            rest = &tail[1..];
            if self.partial.is_empty() {
                self.line(head, emit)?;
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(head);
                self.line(&line, emit)?;
            }
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    /// The body ended: whatever is left must be a complete record.
    pub fn finish(
        &mut self,
        emit: &mut dyn FnMut(&[u8], EventKeys<'_>),
    ) -> Result<(), StreamError> {
        let last = std::mem::take(&mut self.partial);
        if !last.iter().all(u8::is_ascii_whitespace) {
            self.line(&last, emit)?;
        }
        if self.fragment.is_some() {
            return Err(StreamError::EndedInsideRecord);
        }
        Ok(())
    }

    fn line(
        &mut self,
        raw: &[u8],
        emit: &mut dyn FnMut(&[u8], EventKeys<'_>),
    ) -> Result<(), StreamError> {
        let line = raw.trim_ascii();
        if line.is_empty() {
            return Ok(());
        }
        if line == b"terminated early" {
            return Err(StreamError::TerminatedEarly);
        }
        if let Some(mut joined) = self.fragment.take() {
            joined.extend_from_slice(line);
            return match parse(&joined) {
                Ok(keys) => {
                    emit(&joined, keys);
                    Ok(())
                }
                Err(e) => Err(StreamError::Malformed(format!(
                    "a record split across lines does not re-join: {e}"
                ))),
            };
        }
        match parse(line) {
            Ok(keys) => {
                emit(line, keys);
                Ok(())
            }
            // the first half of a record split across two lines
            Err(e) if e.is_eof() => {
                self.fragment = Some(line.to_vec());
                Ok(())
            }
            Err(e) => Err(StreamError::Malformed(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(chunks: &[&[u8]]) -> Result<Vec<String>, StreamError> {
        let mut d = LineDecoder::default();
        let mut out = Vec::new();
        let mut emit = |line: &[u8], k: EventKeys<'_>| {
            assert!(!k.event.is_empty());
            out.push(String::from_utf8_lossy(line).into_owned());
        };
        for c in chunks {
            d.feed(c, &mut emit)?;
        }
        d.finish(&mut emit)?;
        Ok(out)
    }

    const A: &str = r#"{"event":"A","properties":{"time":1,"distinct_id":"u","$insert_id":"i"}}"#;
    const B: &str = r#"{"event":"B","properties":{"time":2,"distinct_id":7}}"#;

    #[test]
    fn any_chunking_gives_the_same_records() {
        let body = format!("{A}\n{B}\n");
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
    fn the_failure_modes_are_errors() {
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
        assert!(matches!(
            decode(&[b"not json\n"]),
            Err(StreamError::Malformed(_))
        ));
    }
}
