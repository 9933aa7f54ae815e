//! Rest.li query decoding, both protocols LinkedIn's `/rest` accepts.
//!
//! - **2.0** (`X-Restli-Protocol-Version: 2.0.0`): each parameter's raw value is a Rest.li value:
//!   `List(a,b)`, a record `(k:v,k2:(…))` or an atom. The structural characters `( ) , :` are
//!   literal; atoms are percent-decoded exactly once (so `urn%3Ali%3AsponsoredCampaign%3A1` is a
//!   URN and `%253A` stays `%3A`). `fields` is a projection: a plain comma list.
//! - **1.0** (no header): form-decoded parameters whose dotted and indexed names build the value:
//!   `dateRange.start.year=2024`, `campaigns[0]=urn:li:sponsoredCampaign:1`.
//!
//! Both give the same [`Value`] tree per parameter; anything malformed is an error message (a
//! 400), never a panic: unbalanced parentheses, trailing characters, nesting deeper than
//! [`MAX_DEPTH`], duplicate names, bad percent escapes.

use std::collections::BTreeMap;

/// Deeper values are refused (a hostile query must not exhaust the stack).
pub const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Atom(String),
    List(Vec<Value>),
    Record(BTreeMap<String, Value>),
}

impl Value {
    pub fn as_atom(&self) -> Option<&str> {
        match self {
            Value::Atom(s) => Some(s),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Record(m) => m.get(key),
            _ => None,
        }
    }
}

/// The decoded parameters of one query.
pub type Params = BTreeMap<String, Value>;

/// Which encoding the request declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    V1,
    V2,
}

pub fn parse_query(query: &str, protocol: Protocol) -> Result<Params, String> {
    match protocol {
        Protocol::V2 => parse_v2(query),
        Protocol::V1 => parse_v1(query),
    }
}

/// Percent-decode once; `+` stays `+`. A `%` not followed by two hex digits is an error.
pub fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("invalid percent escape in `{text}`"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{text}` does not decode to UTF-8"))
}

fn parse_v2(query: &str) -> Result<Params, String> {
    let mut params = Params::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(raw_key)?;
        let value = if key == "fields" {
            Value::List(
                raw_value
                    .split(',')
                    .filter(|f| !f.is_empty())
                    .map(|f| percent_decode(f).map(Value::Atom))
                    .collect::<Result<_, _>>()?,
            )
        } else {
            parse_value(raw_value).map_err(|e| format!("parameter `{key}`: {e}"))?
        };
        if params.insert(key.clone(), value).is_some() {
            return Err(format!("parameter `{key}` is given more than once"));
        }
    }
    Ok(params)
}

/// One Rest.li 2.0 value, the whole of `text`.
pub fn parse_value(text: &str) -> Result<Value, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value(0)?;
    if p.i != p.s.len() {
        return Err(format!(
            "unexpected `{}` at offset {} of `{text}`",
            char::from(p.s[p.i]),
            p.i
        ));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        match self.peek() {
            Some(x) if x == c => {
                self.i += 1;
                Ok(())
            }
            Some(x) => Err(format!(
                "expected `{}` at offset {}, found `{}`",
                char::from(c),
                self.i,
                char::from(x)
            )),
            None => Err(format!("expected `{}`, found the end", char::from(c))),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("values nest deeper than {MAX_DEPTH}"));
        }
        if self.s[self.i..].starts_with(b"List(") {
            self.i += 5;
            let mut items = Vec::new();
            if self.peek() == Some(b')') {
                self.i += 1;
                return Ok(Value::List(items));
            }
            loop {
                items.push(self.value(depth + 1)?);
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b')') => {
                        self.i += 1;
                        return Ok(Value::List(items));
                    }
                    Some(c) => {
                        return Err(format!(
                            "unexpected `{}` at offset {} in a List",
                            char::from(c),
                            self.i
                        ))
                    }
                    None => return Err("unterminated List(".into()),
                }
            }
        }
        if self.peek() == Some(b'(') {
            self.i += 1;
            let mut fields = BTreeMap::new();
            if self.peek() == Some(b')') {
                self.i += 1;
                return Ok(Value::Record(fields));
            }
            loop {
                let key = self.atom()?;
                if key.is_empty() {
                    return Err(format!("empty record key at offset {}", self.i));
                }
                self.expect(b':')?;
                let v = self.value(depth + 1)?;
                if fields.insert(key.clone(), v).is_some() {
                    return Err(format!("record key `{key}` is repeated"));
                }
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b')') => {
                        self.i += 1;
                        return Ok(Value::Record(fields));
                    }
                    Some(c) => {
                        return Err(format!(
                            "unexpected `{}` at offset {} in a record",
                            char::from(c),
                            self.i
                        ))
                    }
                    None => return Err("unterminated record `(`".into()),
                }
            }
        }
        let atom = self.atom()?;
        if atom.is_empty() && self.i < self.s.len() {
            return Err(format!(
                "unexpected `{}` at offset {}",
                char::from(self.s[self.i]),
                self.i
            ));
        }
        Ok(Value::Atom(atom))
    }

    /// Up to the next structural character, percent-decoded once; `''` is the empty string.
    fn atom(&mut self) -> Result<String, String> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if matches!(c, b'(' | b')' | b',' | b':') {
                break;
            }
            self.i += 1;
        }
        let raw = std::str::from_utf8(&self.s[start..self.i])
            .map_err(|_| "a value is not UTF-8".to_string())?;
        if raw == "''" {
            return Ok(String::new());
        }
        percent_decode(raw)
    }
}

/// A 1.0 name under construction.
enum Node {
    Leaf(String),
    Map(BTreeMap<String, Node>),
    Indexed(BTreeMap<usize, Node>),
}

impl Node {
    fn into_value(self) -> Value {
        match self {
            Node::Leaf(s) => Value::Atom(s),
            Node::Map(m) => {
                Value::Record(m.into_iter().map(|(k, v)| (k, v.into_value())).collect())
            }
            Node::Indexed(m) => Value::List(m.into_values().map(Node::into_value).collect()),
        }
    }
}

/// `a.b[0].c` → `[Key(a), Key(b), Index(0), Key(c)]`.
enum Step {
    Key(String),
    Index(usize),
}

fn steps(name: &str) -> Result<Vec<Step>, String> {
    let mut out = Vec::new();
    for part in name.split('.') {
        let (head, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if head.is_empty() {
            return Err(format!("parameter name `{name}` is malformed"));
        }
        out.push(Step::Key(head.to_string()));
        while !rest.is_empty() {
            let close = rest
                .find(']')
                .filter(|_| rest.starts_with('['))
                .ok_or_else(|| format!("parameter name `{name}` is malformed"))?;
            let n = rest[1..close]
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= 10_000)
                .ok_or_else(|| format!("parameter name `{name}` has a bad index"))?;
            out.push(Step::Index(n));
            rest = &rest[close + 1..];
        }
    }
    if out.len() > MAX_DEPTH {
        return Err(format!(
            "parameter name `{name}` nests deeper than {MAX_DEPTH}"
        ));
    }
    Ok(out)
}

fn parse_v1(query: &str) -> Result<Params, String> {
    let mut root: BTreeMap<String, Node> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let path = steps(&k)?;
        let conflict = || format!("parameter `{k}` conflicts with another");
        let value = if k == "fields" {
            Node::Indexed(
                v.split(',')
                    .filter(|f| !f.is_empty())
                    .enumerate()
                    .map(|(i, f)| (i, Node::Leaf(f.to_string())))
                    .collect(),
            )
        } else {
            Node::Leaf(v.into_owned())
        };
        let Some((Step::Key(first), rest)) = path.split_first() else {
            return Err(conflict());
        };
        if rest.is_empty() {
            if root.insert(first.clone(), value).is_some() {
                return Err(format!("parameter `{k}` is given more than once"));
            }
            continue;
        }
        let mut node = root.entry(first.clone()).or_insert_with(|| match rest[0] {
            Step::Key(_) => Node::Map(BTreeMap::new()),
            Step::Index(_) => Node::Indexed(BTreeMap::new()),
        });
        for (i, step) in rest.iter().enumerate() {
            let last = i + 1 == rest.len();
            let fresh = || match rest.get(i + 1) {
                Some(Step::Index(_)) => Node::Indexed(BTreeMap::new()),
                _ => Node::Map(BTreeMap::new()),
            };
            let slot = match (node, step) {
                (Node::Map(m), Step::Key(key)) => {
                    if last {
                        if m.insert(key.clone(), value).is_some() {
                            return Err(format!("parameter `{k}` is given more than once"));
                        }
                        break;
                    }
                    m.entry(key.clone()).or_insert_with(fresh)
                }
                (Node::Indexed(m), Step::Index(n)) => {
                    if last {
                        if m.insert(*n, value).is_some() {
                            return Err(format!("parameter `{k}` is given more than once"));
                        }
                        break;
                    }
                    m.entry(*n).or_insert_with(fresh)
                }
                _ => return Err(conflict()),
            };
            node = slot;
        }
    }
    Ok(root.into_iter().map(|(k, v)| (k, v.into_value())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(s: &str) -> Value {
        Value::Atom(s.into())
    }

    #[test]
    fn lists_records_and_encoded_urns() {
        let p = parse_query(
            "q=analytics&pivot=(value:CAMPAIGN)&campaigns=List(urn%3Ali%3AsponsoredCampaign%3A1,urn%3Ali%3AsponsoredCampaign%3A2)&dateRange=(start:(year:2024,month:1,day:1))&fields=dateRange,pivotValues,impressions",
            Protocol::V2,
        )
        .expect("parses");
        assert_eq!(p["q"], atom("analytics"));
        assert_eq!(p["pivot"].get("value"), Some(&atom("CAMPAIGN")));
        assert_eq!(
            p["campaigns"],
            Value::List(vec![
                atom("urn:li:sponsoredCampaign:1"),
                atom("urn:li:sponsoredCampaign:2")
            ])
        );
        let start = p["dateRange"].get("start").expect("start");
        assert_eq!(start.get("year"), Some(&atom("2024")));
        assert_eq!(
            p["fields"],
            Value::List(vec![
                atom("dateRange"),
                atom("pivotValues"),
                atom("impressions")
            ])
        );
    }

    #[test]
    fn double_encoding_decodes_once_only() {
        let v = parse_value("List(urn%253Ali%253AsponsoredCampaign%253A1)").expect("parses");
        assert_eq!(
            v,
            Value::List(vec![atom("urn%3Ali%3AsponsoredCampaign%3A1")])
        );
    }

    #[test]
    fn hostile_values_are_errors_not_panics() {
        let deep = format!("{}x{}", "List(".repeat(100), ")".repeat(100));
        let deep_records = format!("{}x{}", "(a:".repeat(100), ")".repeat(100));
        for bad in [
            "List(urn:li:sponsoredCampaign:1)",
            "List(a,b",
            "List(a))",
            "(a:1",
            "(a:1))",
            "(a)",
            "(:1)",
            "(a:1,a:2)",
            "List(a,,b)",
            "List(,)",
            "a,b",
            "a:b",
            ")",
            "(",
            "%",
            "%zz",
            "%ff",
            "List(%E2%82)",
            deep.as_str(),
            deep_records.as_str(),
        ] {
            assert!(parse_value(bad).is_err(), "`{bad}` must be refused");
        }
        assert_eq!(parse_value("List()"), Ok(Value::List(vec![])));
        assert_eq!(parse_value("()"), Ok(Value::Record(BTreeMap::new())));
        assert_eq!(parse_value(""), Ok(atom("")));
        assert_eq!(parse_value("''"), Ok(atom("")));
        let ok_depth = format!("{}x{}", "List(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(parse_value(&ok_depth).is_ok());
        assert!(parse_query("a=1&a=2", Protocol::V2).is_err());
        assert!(parse_query("a=(b:1", Protocol::V2).is_err());
    }

    #[test]
    fn protocol_one_builds_the_same_tree() {
        let p = parse_query(
            "q=analytics&pivot=CAMPAIGN&dateRange.start.year=2024&dateRange.start.month=1&dateRange.start.day=2&campaigns[0]=urn:li:sponsoredCampaign:1&campaigns%5B1%5D=urn%3Ali%3AsponsoredCampaign%3A2&fields=a,b",
            Protocol::V1,
        )
        .expect("parses");
        assert_eq!(p["pivot"], atom("CAMPAIGN"));
        let start = p["dateRange"].get("start").expect("start");
        assert_eq!(start.get("day"), Some(&atom("2")));
        assert_eq!(
            p["campaigns"],
            Value::List(vec![
                atom("urn:li:sponsoredCampaign:1"),
                atom("urn:li:sponsoredCampaign:2")
            ])
        );
        assert_eq!(p["fields"], Value::List(vec![atom("a"), atom("b")]));
        for bad in [
            "a=1&a=2",
            "a=1&a.b=2",
            "a.b=1&a[0]=2",
            "a[x]=1",
            "a[=1",
            ".a=1",
            "a[0]=1&a[0]=2",
            "a[99999999999999999999]=1",
        ] {
            assert!(
                parse_query(bad, Protocol::V1).is_err(),
                "`{bad}` must be refused"
            );
        }
        let deep = format!("a{}=1", ".b".repeat(40));
        assert!(parse_query(&deep, Protocol::V1).is_err());
    }
}
