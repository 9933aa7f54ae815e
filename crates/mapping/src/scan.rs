//! A projection scanner: decodes one JSON record, reading only the paths a compiled mapping
//! needs and skipping everything else, straight into typed cells that borrow from the input.
//! No `serde_json::Value` tree is built; strings without escapes are never copied.
//!
//! The paths form a trie compiled once per mapping (like arrow-json's schema-driven decoders,
//! the shape is decided before the first byte). Unknown keys of tracked open objects are
//! reported on the way.

use std::borrow::Cow;
use std::ops::Range;

use sluice_core::json;

use crate::plan::{ColumnPlan, ColumnSource, TrackedObject, ValueType};

/// One node of the path trie: a field, its children, and the columns that read it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Node {
    /// Child keys and their nodes.
    keys: Vec<(Box<[u8]>, u32)>,
    /// Open-addressing table over `keys` (index + 1; 0 is empty): a key is found with one
    /// hash and, almost always, one comparison. Most keys of a record are looked up here.
    table: Vec<u32>,
    columns: Vec<u32>,
    /// Index of the tracked open object this node is, if any.
    tracked: Option<u32>,
}

#[derive(Debug, Clone)]
pub(crate) struct Trie {
    nodes: Vec<Node>,
}

impl Trie {
    pub fn build(columns: &[ColumnPlan], tracked: &[TrackedObject]) -> Self {
        let mut nodes = vec![Node::default()];
        let node_for = |nodes: &mut Vec<Node>, path: &[String]| -> usize {
            let mut at = 0usize;
            for part in path {
                let key = part.as_bytes();
                at = match nodes[at].keys.iter().find(|(k, _)| &**k == key) {
                    Some((_, child)) => *child as usize,
                    None => {
                        nodes.push(Node::default());
                        let child = nodes.len() - 1;
                        nodes[at].keys.push((key.into(), child as u32));
                        child
                    }
                };
            }
            at
        };
        for (i, c) in columns.iter().enumerate() {
            if let ColumnSource::Attribute(path) = &c.source {
                let n = node_for(&mut nodes, path);
                nodes[n].columns.push(i as u32);
            }
        }
        for (i, t) in tracked.iter().enumerate() {
            let n = node_for(&mut nodes, &t.path);
            nodes[n].tracked = Some(i as u32);
            // known keys (read by a column, or ignored by the schema policy) are not reported
            for key in &t.known {
                let mut path = t.path.clone();
                path.push(key.clone());
                node_for(&mut nodes, &path);
            }
        }
        for n in &mut nodes {
            if n.keys.is_empty() {
                continue;
            }
            let size = (n.keys.len() * 2).next_power_of_two();
            n.table = vec![0; size];
            for (i, (k, _)) in n.keys.iter().enumerate() {
                let mut at = key_hash(k) & (size - 1);
                while n.table[at] != 0 {
                    at = (at + 1) & (size - 1);
                }
                n.table[at] = i as u32 + 1;
            }
        }
        Trie { nodes }
    }

    #[inline]
    fn child(&self, node: usize, key: &[u8]) -> Option<usize> {
        let n = &self.nodes[node];
        if n.table.is_empty() {
            return None;
        }
        let mask = n.table.len() - 1;
        let mut at = key_hash(key) & mask;
        loop {
            let slot = n.table[at];
            if slot == 0 {
                return None;
            }
            let (k, child) = &n.keys[slot as usize - 1];
            if key_eq(k, key) {
                return Some(*child as usize);
            }
            at = (at + 1) & mask;
        }
    }
}

/// Key equality without a call into `memcmp` for the short keys of API records.
#[inline(always)]
fn key_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    };
    match n {
        // the first and the last eight bytes (overlapping) cover it all
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// A fast hash of a short key: its length and its first and last eight bytes.
#[inline]
fn key_hash(key: &[u8]) -> usize {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let n = key.len();
    let (head, tail) = if n >= 8 {
        let mut h = [0u8; 8];
        let mut t = [0u8; 8];
        h.copy_from_slice(&key[..8]);
        t.copy_from_slice(&key[n - 8..]);
        (u64::from_le_bytes(h), u64::from_le_bytes(t))
    } else {
        let mut h = [0u8; 8];
        h[..n].copy_from_slice(key);
        (u64::from_le_bytes(h), 0)
    };
    let mut x = (n as u64 ^ head).wrapping_mul(K);
    x = (x.rotate_left(29) ^ tail).wrapping_mul(K);
    (x >> 32) as usize
}

/// One converted value, held until the whole record is known to fit.
#[derive(Debug, Clone)]
pub(crate) enum Cell<'a> {
    Null,
    Int(i64),
    Micros(i64),
    Float(f64),
    Bool(bool),
    Str(Cow<'a, str>),
    List(Vec<Cell<'a>>),
}

/// Why a record failed.
#[derive(Debug, Clone)]
pub(crate) enum RecordError {
    Malformed(String),
    NotObject(&'static str),
    Misfit(String),
}

/// A scanned value: its raw bytes and what it is.
struct Val<'a> {
    raw: &'a [u8],
    kind: Kind<'a>,
}

enum Kind<'a> {
    Null,
    Bool(bool),
    Num(&'a str),
    Str(Cow<'a, str>),
    Array,
    Object,
}

impl Kind<'_> {
    fn name(&self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Num(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        }
    }
}

/// Sink for keys of tracked objects that no column reads.
pub(crate) type UnknownSink<'s> = dyn FnMut(u32, &[u8], Option<ValueType>) + 's;

/// What the scanner needs to know of a column.
#[derive(Debug, Clone)]
pub(crate) struct ColMeta {
    pub ty: ValueType,
    /// The source path, for messages.
    pub name: String,
}

fn in_field(name: &str, e: RecordError) -> RecordError {
    match e {
        RecordError::Misfit(m) => RecordError::Misfit(format!("field `{name}`: {m}")),
        other => other,
    }
}

/// Converts the value `v` into the cell of every column that reads it.
fn fill<'a>(
    v: &Val<'a>,
    columns: &[u32],
    cols: &[ColMeta],
    cells: &mut [Cell<'a>],
) -> Result<(), RecordError> {
    for &c in columns {
        let m = &cols[c as usize];
        cells[c as usize] = convert(v, &m.ty).map_err(|e| in_field(&m.name, e))?;
    }
    Ok(())
}

struct Scanner<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn malformed(pos: usize, what: &str) -> RecordError {
    RecordError::Malformed(format!("at byte {pos}: {what}"))
}

impl<'a> Scanner<'a> {
    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b) = self.buf.get(self.pos) {
            if !matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
                break;
            }
            self.pos += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), RecordError> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(malformed(self.pos, &format!("expected `{}`", byte as char)))
        }
    }

    /// The bytes of a string's contents (after the opening quote), and whether they hold escapes.
    #[inline]
    fn string_bytes(&mut self) -> Result<(&'a [u8], bool), RecordError> {
        let start = self.pos;
        let (end, escaped) =
            json::string_end(self.buf, start).map_err(|at| malformed(at, "unterminated string"))?;
        self.pos = end + 1;
        Ok((&self.buf[start..end], escaped))
    }

    fn string(&mut self) -> Result<Cow<'a, str>, RecordError> {
        let start = self.pos;
        let (bytes, escaped) = self.string_bytes()?;
        if !escaped {
            return std::str::from_utf8(bytes)
                .map(Cow::Borrowed)
                .map_err(|_| malformed(start, "invalid UTF-8 in a string"));
        }
        unescape(bytes)
            .map(Cow::Owned)
            .ok_or_else(|| malformed(start, "invalid escape in a string"))
    }

    /// Skip any value, fast: strings by their quotes, containers by their own brackets.
    #[inline]
    fn skip_value(&mut self) -> Result<(), RecordError> {
        self.pos =
            json::value_end(self.buf, self.pos).map_err(|at| malformed(at, "expected a value"))?;
        Ok(())
    }

    fn value(&mut self) -> Result<Val<'a>, RecordError> {
        self.skip_ws();
        let start = self.pos;
        let kind = match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                Kind::Str(self.string()?)
            }
            Some(b'{') => {
                self.skip_value()?;
                Kind::Object
            }
            Some(b'[') => {
                self.skip_value()?;
                Kind::Array
            }
            _ => {
                self.skip_value()?;
                match &self.buf[start..self.pos] {
                    b"true" => Kind::Bool(true),
                    b"false" => Kind::Bool(false),
                    b"null" => Kind::Null,
                    num => Kind::Num(
                        std::str::from_utf8(num).map_err(|_| malformed(start, "bad number"))?,
                    ),
                }
            }
        };
        Ok(Val {
            raw: &self.buf[start..self.pos],
            kind,
        })
    }

    /// Scan the value at trie `node`: descend into objects the trie goes into, convert what
    /// columns read, skip the rest.
    fn node(
        &mut self,
        trie: &Trie,
        node: usize,
        cols: &[ColMeta],
        cells: &mut [Cell<'a>],
        unknown: &mut UnknownSink<'_>,
    ) -> Result<(), RecordError> {
        let n = &trie.nodes[node];
        self.skip_ws();
        let descend = (!n.keys.is_empty() || n.tracked.is_some()) && self.peek() == Some(b'{');
        if descend {
            let start = self.pos;
            self.object(trie, node, cols, cells, unknown)?;
            if !n.columns.is_empty() {
                let v = Val {
                    raw: &self.buf[start..self.pos],
                    kind: Kind::Object,
                };
                fill(&v, &n.columns, cols, cells)?;
            }
            Ok(())
        } else if !n.columns.is_empty() {
            let v = self.value()?;
            fill(&v, &n.columns, cols, cells)
        } else {
            self.skip_value()
        }
    }

    fn object(
        &mut self,
        trie: &Trie,
        node: usize,
        cols: &[ColMeta],
        cells: &mut [Cell<'a>],
        unknown: &mut UnknownSink<'_>,
    ) -> Result<(), RecordError> {
        self.expect(b'{')?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.expect(b'"')?;
            let (key, escaped) = self.string_bytes()?;
            let owned;
            let key: &[u8] = if escaped {
                owned =
                    unescape(key).ok_or_else(|| malformed(self.pos, "invalid escape in a key"))?;
                owned.as_bytes()
            } else {
                key
            };
            self.expect(b':')?;
            self.member(trie, node, key, cols, cells, unknown)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(malformed(self.pos, "expected `,` or `}`")),
            }
        }
    }

    /// Scan the value of member `key` of the object at trie `node` (the value is next).
    #[inline]
    fn member(
        &mut self,
        trie: &Trie,
        node: usize,
        key: &[u8],
        cols: &[ColMeta],
        cells: &mut [Cell<'a>],
        unknown: &mut UnknownSink<'_>,
    ) -> Result<(), RecordError> {
        if let Some(child) = trie.child(node, key) {
            return self.node(trie, child, cols, cells, unknown);
        }
        if let Some(t) = trie.nodes[node].tracked {
            self.skip_ws();
            let ty = match self.peek() {
                Some(b'n') => None,
                Some(b't') | Some(b'f') => Some(ValueType::Boolean),
                Some(b'"') => Some(ValueType::Utf8),
                Some(b'{') | Some(b'[') => Some(ValueType::JsonText),
                _ => Some(ValueType::Float64),
            };
            unknown(t, key, ty);
        }
        self.skip_value()
    }

    /// The value just scanned must be all of the buffer.
    /// `what` names the value in the error; it is only built when there is one.
    fn at_end(&mut self, what: impl FnOnce() -> String) -> Result<(), RecordError> {
        self.skip_ws();
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(malformed(
                self.pos,
                &format!("trailing characters after {}", what()),
            ))
        }
    }
}

fn unescape(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let hex = |chars: &mut std::str::Chars<'_>| -> Option<u32> {
                    let s: String = chars.take(4).collect();
                    (s.len() == 4).then_some(())?;
                    u32::from_str_radix(&s, 16).ok()
                };
                let first = hex(&mut chars)?;
                let code = if (0xD800..0xDC00).contains(&first) {
                    if chars.next()? != '\\' || chars.next()? != 'u' {
                        return None;
                    }
                    let second = hex(&mut chars)?;
                    if !(0xDC00..0xE000).contains(&second) {
                        return None;
                    }
                    0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                } else {
                    first
                };
                out.push(char::from_u32(code)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

fn short(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s.into_owned()
    }
}

/// Convert a value to a column's type. Lossless widenings are allowed (a number or boolean
/// into a string column, an integral float into an integer column); anything else is a misfit.
fn convert<'a>(v: &Val<'a>, t: &ValueType) -> Result<Cell<'a>, RecordError> {
    let misfit = || {
        RecordError::Misfit(format!(
            "expected {}, found {} ({})",
            t.describe(),
            v.kind.name(),
            short(v.raw)
        ))
    };
    Ok(match (t, &v.kind) {
        (_, Kind::Null) => Cell::Null,
        (ValueType::Int64, Kind::Num(n)) => match n.parse::<i64>() {
            Ok(i) => Cell::Int(i),
            Err(_) => match n.parse::<f64>() {
                Ok(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Cell::Int(f as i64),
                _ => return Err(misfit()),
            },
        },
        (ValueType::Float64, Kind::Num(n)) => Cell::Float(n.parse::<f64>().map_err(|_| misfit())?),
        (ValueType::Boolean, Kind::Bool(b)) => Cell::Bool(*b),
        (ValueType::Timestamp, Kind::Num(n)) => {
            let micros = match n.parse::<i64>() {
                Ok(s) => s.checked_mul(1_000_000),
                Err(_) => n
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && f.abs() < 9.0e12)
                    .map(|f| (f * 1e6).round() as i64),
            };
            Cell::Micros(micros.ok_or_else(misfit)?)
        }
        (ValueType::Timestamp, Kind::Str(s)) => Cell::Micros(
            crate::expr::funcs::parse_iso(s)
                .ok_or_else(&misfit)?
                .timestamp_micros(),
        ),
        (ValueType::Utf8 | ValueType::JsonText, Kind::Str(s)) => Cell::Str(s.clone()),
        (ValueType::Utf8, Kind::Num(n)) => Cell::Str(Cow::Borrowed(n)),
        (ValueType::Utf8, Kind::Bool(b)) => {
            Cell::Str(Cow::Borrowed(if *b { "true" } else { "false" }))
        }
        (ValueType::JsonText, _) => Cell::Str(String::from_utf8_lossy(v.raw)),
        (ValueType::List(item), Kind::Array) => {
            let mut s = Scanner { buf: v.raw, pos: 0 };
            s.expect(b'[')?;
            let mut items = Vec::new();
            s.skip_ws();
            if s.peek() == Some(b']') {
                return Ok(Cell::List(items));
            }
            loop {
                let iv = s.value()?;
                items.push(convert(&iv, item).map_err(|e| match e {
                    RecordError::Misfit(m) => RecordError::Misfit(format!("array item {m}")),
                    other => other,
                })?);
                s.skip_ws();
                match s.peek() {
                    Some(b',') => s.pos += 1,
                    Some(b']') => break,
                    _ => return Err(malformed(s.pos, "expected `,` or `]`")),
                }
            }
            Cell::List(items)
        }
        _ => return Err(misfit()),
    })
}

/// Scan one record into `cells` (one per column, all null: the caller empties them after each
/// record, as it appends them).
pub(crate) fn scan<'a>(
    trie: &Trie,
    line: &'a [u8],
    cols: &[ColMeta],
    cells: &mut [Cell<'a>],
    unknown: &mut UnknownSink<'_>,
) -> Result<(), RecordError> {
    debug_assert!(cells.iter().all(|c| matches!(c, Cell::Null)));
    let mut s = Scanner { buf: line, pos: 0 };
    s.skip_ws();
    match s.peek() {
        Some(b'{') => {}
        Some(b'[') => return Err(RecordError::NotObject("an array")),
        Some(b'"') => return Err(RecordError::NotObject("a string")),
        Some(b't') | Some(b'f') => return Err(RecordError::NotObject("a boolean")),
        Some(b'n') => return Err(RecordError::NotObject("null")),
        Some(b'-' | b'0'..=b'9') => return Err(RecordError::NotObject("a number")),
        _ => return Err(malformed(s.pos, "expected a JSON object")),
    }
    s.object(trie, 0, cols, cells, unknown)?;
    s.at_end(|| "the record".into())
}

/// Scan the members every item of a framed page shares (raw values in `body`) into `cells`,
/// reset to null first: once per page, and each item's cells start from these.
pub(crate) fn scan_shared<'a>(
    trie: &Trie,
    body: &'a [u8],
    shared: &[(String, Range<usize>)],
    cols: &[ColMeta],
    cells: &mut [Cell<'a>],
    unknown: &mut UnknownSink<'_>,
) -> Result<(), RecordError> {
    for c in cells.iter_mut() {
        *c = Cell::Null;
    }
    for (key, range) in shared {
        let what = format!("the page's `{key}`");
        let value = body
            .get(range.clone())
            .ok_or_else(|| malformed(range.start, &format!("{what} is out of the page")))?;
        let mut s = Scanner { buf: value, pos: 0 };
        s.member(trie, 0, key.as_bytes(), cols, cells, unknown)
            .map_err(|e| in_member(&what, e))?;
        s.at_end(|| what)?;
    }
    Ok(())
}

/// Scan one item of a framed page, read as member `key` of its record, into `cells` (which
/// hold the shared members already).
pub(crate) fn scan_item<'a>(
    trie: &Trie,
    item: &'a [u8],
    key: &str,
    cols: &[ColMeta],
    cells: &mut [Cell<'a>],
    unknown: &mut UnknownSink<'_>,
) -> Result<(), RecordError> {
    let mut s = Scanner { buf: item, pos: 0 };
    s.member(trie, 0, key.as_bytes(), cols, cells, unknown)
        .map_err(|e| in_member(&format!("`{key}`"), e))?;
    s.at_end(|| format!("`{key}`"))
}

/// Where a malformed value was: its byte offsets count from the start of `what`.
fn in_member(what: &str, e: RecordError) -> RecordError {
    match e {
        RecordError::Malformed(m) => RecordError::Malformed(format!("in {what}, {m}")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn unescapes_json_strings() {
        assert_eq!(
            unescape(br#"a\"b\\c\/d\n\u00e9\ud83d\ude00"#).as_deref(),
            Some("a\"b\\c/d\né😀")
        );
        assert_eq!(unescape(br#"\ud83d"#), None, "a lone surrogate is invalid");
        assert_eq!(unescape(br#"\x"#), None);
    }
}
