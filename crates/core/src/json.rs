//! Low-level JSON walking shared by the mapping scanner and connectors that delimit a page's
//! items and read a few fields of each without parsing the rest: find where a string or a value
//! ends, fast (`memchr` over quotes and brackets, never a byte-by-byte state machine over string
//! contents), and walk an object's members or an array's items.

use memchr::{memchr2, memchr3};

/// Where the string whose contents start at `pos` (just after the opening quote) ends: the index
/// of the closing quote, and whether the contents hold escapes.
///
/// Most strings of an API record are short (keys, ids, dates), where a call into `memchr`
/// costs more than the search: the first bytes are tested eight at a time in a register, and
/// only a string longer than that goes to `memchr`.
#[inline]
pub fn string_end(buf: &[u8], pos: usize) -> Result<(usize, bool), usize> {
    let mut escaped = false;
    let mut at = pos;
    loop {
        let hit = match quote_or_backslash_near(buf, at) {
            Near::Found(j) => Some(j),
            Near::NotFound => None,
            Near::Far(from) => {
                memchr2(b'"', b'\\', buf.get(from..).unwrap_or_default()).map(|i| from + i)
            }
        };
        let Some(j) = hit else {
            return Err(pos);
        };
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

enum Near {
    Found(usize),
    /// The buffer ends without one.
    NotFound,
    /// None in the first bytes: search on from here.
    Far(usize),
}

/// Bytes tested in registers before a search is handed to `memchr`.
const NEAR: usize = 32;

/// The first `"` or `\\` at or after `at`, looked for in the next [`NEAR`] bytes only.
#[inline(always)]
fn quote_or_backslash_near(buf: &[u8], at: usize) -> Near {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const QUOTES: u64 = ONES * b'"' as u64;
    const BACKSLASHES: u64 = ONES * b'\\' as u64;
    let mut i = at;
    let stop = at.saturating_add(NEAR);
    while i < stop {
        let Some(word) = buf.get(i..i + 8) else {
            // the buffer's last bytes
            return match buf
                .get(i..)
                .unwrap_or_default()
                .iter()
                .position(|b| matches!(b, b'"' | b'\\'))
            {
                Some(k) => Near::Found(i + k),
                None => Near::NotFound,
            };
        };
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_le_bytes(w);
        // a zero byte in `x ^ QUOTES` is a quote; the lowest flagged byte is exact
        let q = x ^ QUOTES;
        let b = x ^ BACKSLASHES;
        let found = (q.wrapping_sub(ONES) & !q | b.wrapping_sub(ONES) & !b) & HIGH;
        if found != 0 {
            return Near::Found(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    Near::Far(i)
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

/// Walk the members of the object starting at `pos` (whitespace allowed before it): `member`
/// gets each key's raw bytes (escapes kept) and where its value starts, and returns where that
/// value ends, having read or skipped it. Returns the end of the object. Errors give a byte
/// offset.
#[inline]
pub fn object_members(
    buf: &[u8],
    pos: usize,
    mut member: impl FnMut(&[u8], usize) -> Result<usize, usize>,
) -> Result<usize, usize> {
    let mut pos = skip_ws(buf, pos);
    if buf.get(pos) != Some(&b'{') {
        return Err(pos);
    }
    pos = skip_ws(buf, pos + 1);
    if buf.get(pos) == Some(&b'}') {
        return Ok(pos + 1);
    }
    loop {
        if buf.get(pos) != Some(&b'"') {
            return Err(pos);
        }
        let (key_end, _) = string_end(buf, pos + 1)?;
        let key = &buf[pos + 1..key_end];
        pos = skip_ws(buf, key_end + 1);
        if buf.get(pos) != Some(&b':') {
            return Err(pos);
        }
        let end = member(key, skip_ws(buf, pos + 1))?;
        pos = skip_ws(buf, end);
        match buf.get(pos) {
            Some(b',') => pos = skip_ws(buf, pos + 1),
            Some(b'}') => return Ok(pos + 1),
            _ => return Err(pos),
        }
    }
}

/// Walk the items of the array starting at `pos` (whitespace allowed before it): `item` gets
/// where each item starts and returns where it ends. Returns the end of the array.
#[inline]
pub fn array_items(
    buf: &[u8],
    pos: usize,
    mut item: impl FnMut(usize) -> Result<usize, usize>,
) -> Result<usize, usize> {
    let mut pos = skip_ws(buf, pos);
    if buf.get(pos) != Some(&b'[') {
        return Err(pos);
    }
    pos = skip_ws(buf, pos + 1);
    if buf.get(pos) == Some(&b']') {
        return Ok(pos + 1);
    }
    loop {
        pos = skip_ws(buf, item(pos)?);
        match buf.get(pos) {
            Some(b',') => pos = skip_ws(buf, pos + 1),
            Some(b']') => return Ok(pos + 1),
            _ => return Err(pos),
        }
    }
}

/// Raw values of named fields, `None` where absent.
pub type Fields<'a, const N: usize> = [Option<&'a [u8]>; N];

/// The raw values of the top-level fields `names` of the object starting at `pos` (keys
/// without escapes; the last occurrence wins), `None` where a field is absent, and where the
/// object ends. Errors give a byte offset.
pub fn top_level_fields<'a, const N: usize>(
    buf: &'a [u8],
    pos: usize,
    names: [&[u8]; N],
) -> Result<(Fields<'a, N>, usize), usize> {
    let mut out = [None; N];
    let end = object_members(buf, pos, |key, start| {
        let end = value_end(buf, start)?;
        if let Some(i) = names.iter().position(|n| *n == key) {
            out[i] = Some(&buf[start..end]);
        }
        Ok(end)
    })?;
    Ok((out, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_top_level_fields_and_skips_the_rest() {
        let raw = br#"{"a": {"id": 9, "s": "}{"}, "id": 42, "t": [1, "]", {"x": "\"y"}], "u": "2024-01-01T00:00:00Z", "n": null}"#;
        let ([id, u, missing], end) =
            top_level_fields(raw, 0, [b"id", b"u", b"zz"]).expect("object");
        assert_eq!(end, raw.len());
        assert_eq!(id, Some(&b"42"[..]));
        assert_eq!(u, Some(&br#""2024-01-01T00:00:00Z""#[..]));
        assert_eq!(missing, None);
        assert!(top_level_fields(br#"{"id": 1,"#, 0, [b"id"]).is_err());
        assert!(top_level_fields(br#"[1]"#, 0, [b"id"]).is_err());
        assert_eq!(top_level_fields(br#" {} ,"#, 0, [b"id"]), Ok(([None], 3)));
        assert_eq!(value_end(br#"  "a\"b" ,"#, 0), Ok(8));
    }

    #[test]
    fn string_ends_are_found_at_every_length_and_offset() {
        for len in 0..80 {
            for escape_at in [None, Some(0), Some(7), Some(8), Some(31), Some(33)] {
                let mut contents: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                let escaped = escape_at.filter(|&e| e < len).is_some();
                if let Some(e) = escape_at.filter(|&e| e < len) {
                    contents.splice(e..e, *b"\\\"");
                }
                let mut buf = b"\"".to_vec();
                buf.extend_from_slice(&contents);
                buf.extend_from_slice(b"\" , 1");
                assert_eq!(
                    string_end(&buf, 1),
                    Ok((contents.len() + 1, escaped)),
                    "{}",
                    String::from_utf8_lossy(&buf)
                );
                // cut before the closing quote
                assert!(string_end(&buf[..contents.len() + 1], 1).is_err());
            }
        }
        // multi-byte UTF-8 never looks like a quote or a backslash
        let buf = "\"Zoë 北京 😀\"".as_bytes();
        assert_eq!(string_end(buf, 1), Ok((buf.len() - 1, false)));
        assert_eq!(string_end(br#""a\\""#, 1), Ok((4, true)));
        assert!(string_end(br#""a\"#, 1).is_err());
    }

    #[test]
    fn walks_array_items_and_reports_where_they_break() {
        let buf = br#"[ {"a": "]"}, 2 ,"x"] tail"#;
        let mut items = Vec::new();
        let end = array_items(buf, 0, |at| {
            let end = value_end(buf, at)?;
            items.push(&buf[at..end]);
            Ok(end)
        });
        assert_eq!(end, Ok(21));
        assert_eq!(items, [&br#"{"a": "]"}"#[..], b"2", br#""x""#]);
        assert_eq!(array_items(b"[]", 0, |_| Err(0)), Ok(2));
        assert_eq!(
            array_items(b"[1 2]", 0, |at| value_end(b"[1 2]", at)),
            Err(3)
        );
        assert_eq!(array_items(b"[1,", 0, |at| value_end(b"[1,", at)), Err(3));
    }
}
