//! Low-level JSON skipping shared by the mapping scanner and connectors that need a few fields
//! of a record without parsing all of it: find where a string or a value ends, fast (`memchr`
//! over quotes and brackets, never a byte-by-byte state machine over string contents).

use memchr::{memchr2, memchr3};

/// Where the string whose contents start at `pos` (just after the opening quote) ends: the index
/// of the closing quote, and whether the contents hold escapes.
#[inline]
pub fn string_end(buf: &[u8], pos: usize) -> Result<(usize, bool), usize> {
    let mut escaped = false;
    let mut at = pos;
    loop {
        match memchr2(b'"', b'\\', buf.get(at..).unwrap_or_default()) {
            None => return Err(pos),
            Some(i) => {
                let j = at + i;
                if buf[j] == b'"' {
                    return Ok((j, escaped));
                }
                escaped = true;
                at = j + 2;
                if at > buf.len() {
                    return Err(j);
                }
            }
        }
    }
}

#[inline]
pub fn skip_ws(buf: &[u8], mut pos: usize) -> usize {
    while let Some(b) = buf.get(pos) {
        if !matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            break;
        }
        pos += 1;
    }
    pos
}

/// Where the value starting at `pos` (whitespace allowed before it) ends. Literals are checked
/// for shape, not fully validated; strings and containers are delimited exactly.
#[inline]
pub fn value_end(buf: &[u8], pos: usize) -> Result<usize, usize> {
    let pos = skip_ws(buf, pos);
    match buf.get(pos) {
        Some(b'"') => string_end(buf, pos + 1).map(|(end, _)| end + 1),
        Some(&open @ (b'{' | b'[')) => {
            // braces balance on their own (so do brackets): jump between quotes and this
            // container's own delimiters only
            let close = if open == b'{' { b'}' } else { b']' };
            let mut depth = 0usize;
            let mut at = pos;
            while let Some(i) = memchr3(b'"', open, close, &buf[at..]) {
                at += i;
                match buf[at] {
                    b'"' => {
                        at = string_end(buf, at + 1)?.0 + 1;
                        continue;
                    }
                    b if b == open => depth += 1,
                    _ => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(at + 1);
                        }
                    }
                }
                at += 1;
            }
            Err(pos)
        }
        Some(_) => {
            let mut at = pos;
            while let Some(&b) = buf.get(at) {
                if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                    break;
                }
                at += 1;
            }
            match &buf[pos..at] {
                b"true" | b"false" | b"null" => Ok(at),
                lit if !lit.is_empty() && (lit[0] == b'-' || lit[0].is_ascii_digit()) => Ok(at),
                _ => Err(pos),
            }
        }
        None => Err(pos),
    }
}

/// The raw values of the top-level fields `names` of the object in `raw` (keys without escapes;
/// the last occurrence wins). `None` where a field is absent. Errors give a byte offset.
pub fn top_level_fields<'a, const N: usize>(
    raw: &'a [u8],
    names: [&[u8]; N],
) -> Result<[Option<&'a [u8]>; N], usize> {
    let mut out = [None; N];
    let mut pos = skip_ws(raw, 0);
    if raw.get(pos) != Some(&b'{') {
        return Err(pos);
    }
    pos = skip_ws(raw, pos + 1);
    if raw.get(pos) == Some(&b'}') {
        return Ok(out);
    }
    loop {
        if raw.get(pos) != Some(&b'"') {
            return Err(pos);
        }
        let (key_end, _) = string_end(raw, pos + 1)?;
        let key = &raw[pos + 1..key_end];
        pos = skip_ws(raw, key_end + 1);
        if raw.get(pos) != Some(&b':') {
            return Err(pos);
        }
        let start = skip_ws(raw, pos + 1);
        let end = value_end(raw, start)?;
        if let Some(i) = names.iter().position(|n| *n == key) {
            out[i] = Some(&raw[start..end]);
        }
        pos = skip_ws(raw, end);
        match raw.get(pos) {
            Some(b',') => pos = skip_ws(raw, pos + 1),
            Some(b'}') => return Ok(out),
            _ => return Err(pos),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_top_level_fields_and_skips_the_rest() {
        let raw = br#"{"a": {"id": 9, "s": "}{"}, "id": 42, "t": [1, "]", {"x": "\"y"}], "u": "2024-01-01T00:00:00Z", "n": null}"#;
        let [id, u, missing] = top_level_fields(raw, [b"id", b"u", b"zz"]).expect("object");
        assert_eq!(id, Some(&b"42"[..]));
        assert_eq!(u, Some(&br#""2024-01-01T00:00:00Z""#[..]));
        assert_eq!(missing, None);
        assert!(top_level_fields(br#"{"id": 1,"#, [b"id"]).is_err());
        assert!(top_level_fields(br#"[1]"#, [b"id"]).is_err());
        assert_eq!(value_end(br#"  "a\"b" ,"#, 0), Ok(8));
    }
}
