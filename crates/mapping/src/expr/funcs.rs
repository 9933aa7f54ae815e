//! The function library: Data Prep's names, argument orders and null rules. Each function is
//! declared in [`FUNCTIONS`] (arity, result type, an example) and implemented in [`call`].

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use regex::Regex;

use super::value::Dv;

/// What a function returns, for the column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    Str,
    Int,
    Float,
    Bool,
    Time,
    ListStr,
    /// Objects, arrays of anything: kept as JSON text.
    Json,
    /// The common type of the arguments from `from` on (iif, decode, coalesce, min, max, …).
    Args {
        from: usize,
    },
}

#[derive(Debug)]
pub struct FnSpec {
    pub name: &'static str,
    pub min: usize,
    pub max: usize,
    pub ret: Ret,
    pub example: &'static str,
    pub note: &'static str,
}

const ANY: usize = usize::MAX;

macro_rules! f {
    ($name:literal, $min:expr, $max:expr, $ret:expr, $ex:literal) => {
        FnSpec {
            name: $name,
            min: $min,
            max: $max,
            ret: $ret,
            example: $ex,
            note: "",
        }
    };
    ($name:literal, $min:expr, $max:expr, $ret:expr, $ex:literal, $note:literal) => {
        FnSpec {
            name: $name,
            min: $min,
            max: $max,
            ret: $ret,
            example: $ex,
            note: $note,
        }
    };
}

pub const FUNCTIONS: &[FnSpec] = &[
    // strings
    f!("concat", 1, ANY, Ret::Str, "concat(results.name, \" <\", results.email, \">\")", "null arguments are skipped"),
    f!("explode", 1, 2, Ret::ListStr, "explode(\"a,b,,c\")", "default separator `,`; keeps empty entries"),
    f!("instr", 2, 4, Ret::Int, "instr(\"adobe.com\", \"com\")", "1-based position, 0 when absent"),
    f!("replacestr", 3, 3, Ret::Str, "replacestr(results.role, \"-\", \" \")"),
    f!("substr", 3, 3, Ret::Str, "substr(\"This is a substring test\", 7, 8)", "0-based start, length"),
    f!("lower", 1, 1, Ret::Str, "lower(results.email)"),
    f!("lcase", 1, 1, Ret::Str, "lcase(results.email)"),
    f!("upper", 1, 1, Ret::Str, "upper(results.locale)"),
    f!("ucase", 1, 1, Ret::Str, "ucase(results.locale)"),
    f!("split", 2, 2, Ret::ListStr, "split(\"a,b,,c\", \",\")", "drops empty entries"),
    f!("join", 2, ANY, Ret::Str, "join(\", \", results.tags)", "separator first; arrays are flattened, nulls skipped"),
    f!("lpad", 3, 3, Ret::Str, "lpad(\"7\", 3, \"0\")"),
    f!("rpad", 3, 3, Ret::Str, "rpad(\"7\", 3, \"0\")"),
    f!("left", 2, 2, Ret::Str, "left(results.name, 3)"),
    f!("right", 2, 2, Ret::Str, "right(results.name, 3)"),
    f!("ltrim", 1, 1, Ret::Str, "ltrim(\"  x \")"),
    f!("rtrim", 1, 1, Ret::Str, "rtrim(\"  x \")"),
    f!("trim", 1, 1, Ret::Str, "trim(\"  x \")"),
    f!("equals", 2, 2, Ret::Bool, "results.role.equals(\"admin\")"),
    f!("equalsIgnoreCase", 2, 2, Ret::Bool, "results.role.equalsIgnoreCase(\"ADMIN\")"),
    // regex
    f!("extract_regex", 2, 2, Ret::ListStr, "extract_regex(\"E259,E259B_009,1_1\", \"([^,]+),[^,]*,([^,]+)\")", "whole match first, then the groups"),
    f!("matches_regex", 2, 2, Ret::Bool, "matches_regex(results.email, \"@example\\\\.org$\")", "true when the pattern matches anywhere"),
    // hashing
    f!("sha1", 1, 2, Ret::Str, "sha1(results.email)", "lowercase hex; the charset argument is accepted, UTF-8 is used"),
    f!("sha256", 1, 2, Ret::Str, "sha256(results.email)"),
    f!("sha512", 1, 2, Ret::Str, "sha512(results.email)"),
    f!("md5", 1, 2, Ret::Str, "md5(results.email)"),
    f!("crc32", 1, 2, Ret::Str, "crc32(results.email)", "lowercase hex"),
    // URL
    f!("get_url_protocol", 1, 1, Ret::Str, "get_url_protocol(results.url)"),
    f!("get_url_host", 1, 1, Ret::Str, "get_url_host(results.url)"),
    f!("get_url_port", 1, 1, Ret::Int, "get_url_port(\"https://x.com:8443/a\")", "the scheme's default when none is given"),
    f!("get_url_path", 1, 2, Ret::Str, "get_url_path(results.url)", "with `true`, also the query and fragment"),
    f!("get_url_query_str", 2, 2, Ret::Str, "get_url_query_str(\"https://x.com/a?b=1#c\", \"retain\")", "retain: query and fragment; remove: query only; append: query then `#fragment`"),
    f!("get_url_encoded", 1, 1, Ret::Str, "get_url_encoded(\"a b&c\")"),
    f!("get_url_decoded", 1, 1, Ret::Str, "get_url_decoded(\"a%20b%26c\")"),
    // dates
    f!("now", 0, 0, Ret::Time, "now()"),
    f!("timestamp", 0, 0, Ret::Int, "timestamp()", "epoch milliseconds"),
    f!("format", 2, 2, Ret::Str, "format(date(results.created_at), \"yyyy-MM-dd\")", "Java DateTimeFormatter patterns (common letters)"),
    f!("dformat", 2, 2, Ret::Str, "dformat(1652429062000, \"yyyy-MM-dd'T'HH:mm:ss\")", "epoch milliseconds"),
    f!("date", 1, 3, Ret::Time, "date(\"13/05/2022\", \"dd/MM/yyyy\", date(\"1970-01-01\"))", "date(str) reads ISO-8601; with a format; with a default when it does not parse"),
    f!("date_part", 2, 2, Ret::Int, "date_part(\"month\", date(results.created_at))", "year, quarter, month, dayofyear, day, week, weekday, hour, minute, second, millisecond and their aliases"),
    f!("set_date_part", 3, 3, Ret::Time, "set_date_part(\"year\", 2020, date(results.created_at))"),
    f!("make_date_time", 8, 8, Ret::Time, "make_date_time(2024, 5, 1, 8, 30, 0, 0, \"Europe/Berlin\")"),
    f!("make_timestamp", 8, 8, Ret::Time, "make_timestamp(2024, 5, 1, 8, 30, 0, 0, \"UTC\")", "alias of make_date_time"),
    f!("zone_date_to_utc", 1, 1, Ret::Time, "zone_date_to_utc(date(\"2024-05-01T10:00:00+02:00\"))"),
    f!("zone_date_to_zone", 2, 2, Ret::Time, "zone_date_to_zone(date(results.created_at), \"Asia/Kolkata\")"),
    // objects and maps
    f!("is_empty", 1, 1, Ret::Bool, "is_empty(results.tags)", "null, \"\", [] and {} are empty"),
    f!("to_object", 2, ANY, Ret::Json, "to_object(\"id\", results.id, \"name\", results.name)"),
    f!("object_to_map", 1, ANY, Ret::Json, "object_to_map(\"a\", 1, \"b\", 2)"),
    f!("str_to_object", 1, 3, Ret::Json, "str_to_object(\"a=1;b=2\", \"=\", \";\")", "defaults `:` and `,`"),
    f!("get", 2, 2, Ret::Str, "str_to_object(\"a:1,b:2\").get(\"b\")"),
    f!("contains_key", 2, 2, Ret::Bool, "contains_key(results.user_fields, \"plan\")", "takes the object and the key (Data Prep takes a source path)"),
    f!("nullify", 0, 0, Ret::Str, "nullify()"),
    f!("get_keys", 1, 1, Ret::ListStr, "get_keys(results.user_fields)"),
    f!("get_values", 2, 4, Ret::Str, "get_values(\"a:1,b:2\", \"b\", \":\", \",\")"),
    f!("map_get_values", 2, 2, Ret::Json, "map_get_values(results.user_fields, \"plan\")", "a key gives its value; an array of keys, an array of values"),
    f!("map_has_keys", 2, 2, Ret::Bool, "map_has_keys(results.user_fields, \"plan\")", "an array of keys: all present"),
    f!("add_to_map", 1, ANY, Ret::Json, "add_to_map(results.user_fields, to_object(\"src\", \"zendesk\"))", "the first map with a key wins"),
    // arrays
    f!("coalesce", 1, ANY, Ret::Args { from: 0 }, "coalesce(results.phone, results.email, \"none\")"),
    f!("first", 1, 1, Ret::Json, "first(results.tags)"),
    f!("last", 1, 1, Ret::Json, "last(results.tags)"),
    f!("add_to_array", 1, ANY, Ret::Json, "add_to_array(results.tags, \"zendesk\")"),
    f!("join_arrays", 1, ANY, Ret::Json, "join_arrays(results.tags, explode(\"a,b\"))"),
    f!("to_array", 1, ANY, Ret::Json, "to_array(false, results.phone, results.email)", "first argument: keep nulls"),
    f!("size_of", 1, 1, Ret::Int, "size_of(results.tags)", "characters of a string, items of an array, keys of an object"),
    // logic, aggregation
    f!("decode", 3, ANY, Ret::Args { from: 2 }, "decode(results.role, \"admin\", 1, \"agent\", 2, 0)", "key, then pairs, then an optional default"),
    f!("iif", 3, 3, Ret::Args { from: 1 }, "iif(results.verified, \"yes\", \"no\")"),
    f!("min", 1, ANY, Ret::Args { from: 0 }, "min(results.created_at, results.updated_at)", "nulls are ignored"),
    f!("max", 1, ANY, Ret::Args { from: 0 }, "max(results.locale_id, 3)"),
    // types
    f!("to_bigint", 1, 1, Ret::Int, "to_bigint(\"12\")"),
    f!("to_integer", 1, 1, Ret::Int, "to_integer(\"12.7\")", "truncates"),
    f!("to_decimal", 1, 1, Ret::Float, "to_decimal(\"12.5\")", "a double, as in Data Prep"),
    f!("to_float", 1, 1, Ret::Float, "to_float(\"12.5\")"),
    // JSON, special
    f!("json_to_object", 1, 1, Ret::Json, "json_to_object(\"{\\\"a\\\": 1}\")"),
    f!("uuid", 0, 0, Ret::Str, "uuid()", "a random version-4 UUID"),
    f!("guid", 0, 0, Ret::Str, "guid()"),
];

pub fn spec(name: &str) -> Option<&'static FnSpec> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// A value as text, borrowed when it is a string already.
fn text(v: &Dv) -> Option<Cow<'_, str>> {
    match v {
        Dv::Str(s) => Some(Cow::Borrowed(s)),
        other => other.to_text().map(Cow::Owned),
    }
}

thread_local! {
    static REGEXES: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
}

fn with_regex<T>(pattern: &str, f: impl FnOnce(&Regex) -> T) -> Result<T, String> {
    REGEXES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if !cache.contains_key(pattern) {
            if cache.len() > 256 {
                cache.clear();
            }
            let re = Regex::new(pattern)
                .map_err(|e| format!("invalid regular expression `{pattern}`: {e}"))?;
            cache.insert(pattern.to_string(), re);
        }
        Ok(f(&cache[pattern]))
    })
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

fn utc(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.with_timezone(&FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!("zero offset")))
}

/// Java DateTimeFormatter letters → strftime, for the common patterns.
pub fn java_format(pattern: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '%' {
                    out.push('%');
                }
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let spec = match (c, n) {
            ('y', 2) => "%y",
            ('y', _) | ('u', _) => "%Y",
            ('M', 1) => "%-m",
            ('M', 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', 1) => "%-d",
            ('d', _) => "%d",
            ('D', _) => "%j",
            ('H', 1) => "%-H",
            ('H', _) => "%H",
            ('h', _) => "%I",
            ('m', 1) => "%-M",
            ('m', _) => "%M",
            ('s', 1) => "%-S",
            ('s', _) => "%S",
            ('S', 3) => "%3f",
            ('S', 6) => "%6f",
            ('S', _) => "%9f",
            ('a', _) => "%p",
            ('E', 4) => "%A",
            ('E', _) => "%a",
            ('X', 1) | ('x', 1) => "%#z",
            ('X', _) | ('x', _) => "%:z",
            ('Z', _) => "%z",
            ('z', _) | ('V', _) => "%Z",
            _ => {
                for _ in 0..n {
                    if c == '%' {
                        out.push('%');
                    }
                    out.push(c);
                }
                i += n;
                continue;
            }
        };
        out.push_str(spec);
        i += n;
    }
    out
}

/// ISO-8601 as Data Prep's `date(str)` reads it: an offset time, a local time (UTC), or a day.
/// Timestamp columns read text the same way (APIs send `2024-05-01T10:20:30` without a zone).
pub(crate) fn parse_iso(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t);
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(utc(t.and_utc()));
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| utc(t.and_utc()))
}

thread_local! {
    /// Java patterns, translated and parsed once per thread: a mapping formats every record
    /// with the same few patterns.
    static FORMATS: RefCell<HashMap<String, Vec<chrono::format::Item<'static>>>> =
        RefCell::new(HashMap::new());
}

/// `t` in the Java DateTimeFormatter `pattern`.
fn formatted<Tz: TimeZone>(t: &DateTime<Tz>, pattern: &str) -> Result<String, String>
where
    Tz::Offset: std::fmt::Display,
{
    FORMATS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if !cache.contains_key(pattern) {
            if cache.len() > 256 {
                cache.clear();
            }
            let items = chrono::format::StrftimeItems::new(&java_format(pattern))
                .parse_to_owned()
                .map_err(|_| format!("`{pattern}` is not a date pattern sluice can write"))?;
            cache.insert(pattern.to_string(), items);
        }
        let mut out = String::new();
        std::fmt::Write::write_fmt(
            &mut out,
            format_args!("{}", t.format_with_items(cache[pattern].iter())),
        )
        .map_err(|_| format!("`{pattern}` cannot format {t:?}"))?;
        Ok(out)
    })
}

fn parse_with(s: &str, pattern: &str) -> Option<DateTime<FixedOffset>> {
    let f = java_format(pattern);
    if let Ok(t) = DateTime::parse_from_str(s, &f) {
        return Some(t);
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, &f) {
        return Some(utc(t.and_utc()));
    }
    NaiveDate::parse_from_str(s, &f)
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| utc(t.and_utc()))
}

fn as_time(v: &Dv) -> Option<DateTime<FixedOffset>> {
    match v {
        Dv::Time(t) => Some(*t),
        Dv::Str(s) => parse_iso(s),
        Dv::Int(ms) => DateTime::from_timestamp_millis(*ms).map(utc),
        _ => None,
    }
}

fn in_zone(t: DateTime<FixedOffset>, zone: &str) -> Result<DateTime<FixedOffset>, String> {
    let tz: chrono_tz::Tz = zone
        .parse()
        .map_err(|_| format!("unknown timezone `{zone}`"))?;
    Ok(t.with_timezone(&tz).fixed_offset())
}

fn component(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "year" | "yyyy" | "yy" => "year",
        "quarter" | "qq" | "q" => "quarter",
        "month" | "mm" | "m" => "month",
        "dayofyear" | "dy" | "y" => "dayofyear",
        "day" | "dd" | "d" => "day",
        "week" | "ww" | "w" => "week",
        "weekday" | "dw" => "weekday",
        "hour" | "hh" | "hh24" | "hh12" => "hour",
        "minute" | "mi" | "n" => "minute",
        "second" | "ss" | "s" => "second",
        "millisecond" | "ms" => "millisecond",
        _ => return None,
    })
}

fn numeric_cmp(a: &Dv, b: &Dv) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Dv::Int(x), Dv::Int(y)) => Some(x.cmp(y)),
        (Dv::Time(x), Dv::Time(y)) => Some(x.cmp(y)),
        (Dv::Str(x), Dv::Str(y)) => Some(x.cmp(y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// Compare two values as the operators do; `None` when they cannot be compared.
pub fn compare(a: &Dv, b: &Dv) -> Option<std::cmp::Ordering> {
    numeric_cmp(a, b)
}

fn str_to_map(s: &str, val: &str, field: &str) -> BTreeMap<String, Dv> {
    s.split(field)
        .filter_map(|pair| {
            let (k, v) = pair.split_once(val)?;
            Some((k.trim().to_string(), Dv::Str(v.trim().to_string())))
        })
        .collect()
}

fn pad(s: &str, count: usize, p: &str, left: bool) -> String {
    let len = s.chars().count();
    if len >= count || p.is_empty() {
        return s.to_string();
    }
    let fill: String = p.chars().cycle().take(count - len).collect();
    if left {
        fill + s
    } else {
        s.to_string() + &fill
    }
}

fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    for x in &mut b {
        *x = fastrand::u8(..);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Call function `name` on evaluated arguments. Most functions give null when a required
/// argument is null (Data Prep's rule); the exceptions say so in their notes.
pub fn call(name: &str, a: &[Dv]) -> Result<Dv, String> {
    let s = |i: usize| a.get(i).and_then(text);
    let int = |i: usize| a.get(i).and_then(Dv::as_i64);
    macro_rules! need {
        ($e:expr) => {
            match $e {
                Some(v) => v,
                None => return Ok(Dv::Null),
            }
        };
    }
    let str_fn = |f: &dyn Fn(&str) -> String| -> Result<Dv, String> {
        Ok(match s(0) {
            Some(x) => Dv::Str(f(&x)),
            None => Dv::Null,
        })
    };
    Ok(match name {
        "concat" => Dv::Str(a.iter().filter_map(text).collect()),
        "explode" => {
            let input = need!(s(0));
            let sep = s(1).unwrap_or_else(|| ",".into());
            let parts: Vec<Dv> = with_regex(&sep, |re| {
                re.split(&input).map(|p| Dv::Str(p.to_string())).collect()
            })?;
            Dv::List(parts)
        }
        "instr" => {
            let (input, sub) = (need!(s(0)), need!(s(1)));
            let start = int(2).unwrap_or(1).max(1) as usize;
            let occurrence = int(3).unwrap_or(1).max(1) as usize;
            let chars: Vec<char> = input.chars().collect();
            let needle: Vec<char> = sub.chars().collect();
            let mut found = 0;
            let mut at = 0;
            if !needle.is_empty() {
                for i in (start - 1)..chars.len().saturating_sub(needle.len() - 1) {
                    if chars[i..i + needle.len()] == needle[..] {
                        found += 1;
                        if found == occurrence {
                            at = i + 1;
                            break;
                        }
                    }
                }
            }
            Dv::Int(at as i64)
        }
        "replacestr" => Dv::Str(need!(s(0)).replace(&*need!(s(1)), &s(2).unwrap_or_default())),
        "substr" => {
            let input = need!(s(0));
            let start = need!(int(1)).max(0) as usize;
            let len = need!(int(2)).max(0) as usize;
            Dv::Str(input.chars().skip(start).take(len).collect())
        }
        "lower" | "lcase" => return str_fn(&|x| x.to_lowercase()),
        "upper" | "ucase" => return str_fn(&|x| x.to_uppercase()),
        "ltrim" => return str_fn(&|x| x.trim_start().to_string()),
        "rtrim" => return str_fn(&|x| x.trim_end().to_string()),
        "trim" => return str_fn(&|x| x.trim().to_string()),
        "split" => {
            let (input, sep) = (need!(s(0)), need!(s(1)));
            Dv::List(
                input
                    .split(&*sep)
                    .filter(|p| !p.is_empty())
                    .map(|p| Dv::Str(p.to_string()))
                    .collect(),
            )
        }
        "join" => {
            let sep = s(0).unwrap_or_default();
            let mut parts = Vec::new();
            for v in &a[1..] {
                match v {
                    Dv::List(items) => parts.extend(items.iter().filter_map(text)),
                    other => parts.extend(text(other)),
                }
            }
            Dv::Str(parts.join(&sep))
        }
        "lpad" | "rpad" => {
            let input = need!(s(0));
            let count = need!(int(1)).max(0) as usize;
            let p = s(2).unwrap_or_else(|| " ".into());
            Dv::Str(pad(&input, count, &p, name == "lpad"))
        }
        "left" => Dv::Str(
            need!(s(0))
                .chars()
                .take(need!(int(1)).max(0) as usize)
                .collect(),
        ),
        "right" => {
            let input = need!(s(0));
            let n = need!(int(1)).max(0) as usize;
            let len = input.chars().count();
            Dv::Str(input.chars().skip(len.saturating_sub(n)).collect())
        }
        "equals" => Dv::Bool(s(0) == s(1)),
        "equalsIgnoreCase" => {
            Dv::Bool(s(0).map(|x| x.to_lowercase()) == s(1).map(|x| x.to_lowercase()))
        }
        "extract_regex" => {
            let (input, pattern) = (need!(s(0)), need!(s(1)));
            with_regex(&pattern, |re| match re.captures(&input) {
                Some(c) => Dv::List(
                    c.iter()
                        .map(|m| m.map_or(Dv::Null, |m| Dv::Str(m.as_str().to_string())))
                        .collect(),
                ),
                None => Dv::Null,
            })?
        }
        "matches_regex" => {
            let (input, pattern) = (need!(s(0)), need!(s(1)));
            Dv::Bool(with_regex(&pattern, |re| re.is_match(&input))?)
        }
        "sha1" | "sha256" | "sha512" | "md5" | "crc32" => {
            use sha2::Digest;
            let input = need!(s(0));
            let b = input.as_bytes();
            Dv::Str(match name {
                "sha1" => hex(&sha1::Sha1::digest(b)),
                "sha256" => hex(&sha2::Sha256::digest(b)),
                "sha512" => hex(&sha2::Sha512::digest(b)),
                "md5" => hex(&md5::Md5::digest(b)),
                _ => format!("{:08x}", crc32fast::hash(b)),
            })
        }
        "get_url_protocol" | "get_url_host" | "get_url_port" | "get_url_path"
        | "get_url_query_str" => {
            let Ok(u) = url::Url::parse(&need!(s(0))) else {
                return Ok(Dv::Null);
            };
            match name {
                "get_url_protocol" => Dv::Str(u.scheme().to_string()),
                "get_url_host" => u.host_str().map_or(Dv::Null, |h| Dv::Str(h.to_string())),
                "get_url_port" => u
                    .port_or_known_default()
                    .map_or(Dv::Null, |p| Dv::Int(i64::from(p))),
                "get_url_path" => {
                    let full = a.get(1).is_some_and(Dv::truthy);
                    let mut p = u.path().to_string();
                    if full {
                        if let Some(q) = u.query() {
                            p.push('?');
                            p.push_str(q);
                        }
                        if let Some(f) = u.fragment() {
                            p.push('#');
                            p.push_str(f);
                        }
                    }
                    Dv::Str(p)
                }
                _ => {
                    let q = u.query().unwrap_or("").to_string();
                    let frag = u.fragment().unwrap_or("");
                    Dv::Str(match s(1).as_deref() {
                        Some("remove") => q,
                        Some("append") if !frag.is_empty() => format!("{q}#{frag}"),
                        Some("append") => q,
                        _ if frag.is_empty() => q,
                        _ => format!("{q}#{frag}"),
                    })
                }
            }
        }
        "get_url_encoded" => Dv::Str(
            url::form_urlencoded::byte_serialize(need!(s(0)).as_bytes())
                .collect::<String>()
                .replace('+', "%20"),
        ),
        "get_url_decoded" => {
            let input = need!(s(0));
            Dv::Str(
                url::form_urlencoded::parse(format!("x={}", input.replace('+', "%2B")).as_bytes())
                    .next()
                    .map_or(String::new(), |(_, v)| v.into_owned()),
            )
        }
        "now" => Dv::Time(utc(Utc::now())),
        "timestamp" => Dv::Int(Utc::now().timestamp_millis()),
        "format" => {
            let t = need!(a.first().and_then(as_time));
            Dv::Str(formatted(&t, &need!(s(1)))?)
        }
        "dformat" => {
            let ms = need!(int(0));
            let t = need!(DateTime::from_timestamp_millis(ms));
            Dv::Str(formatted(&t, &need!(s(1)))?)
        }
        "date" => {
            let input = s(0);
            let parsed = match (&input, s(1)) {
                (None, _) => None,
                (Some(x), None) => parse_iso(x),
                (Some(x), Some(f)) => parse_with(x, &f),
            };
            match (parsed, a.get(2)) {
                (Some(t), _) => Dv::Time(t),
                (None, Some(default)) => default.clone(),
                (None, None) => Dv::Null,
            }
        }
        "date_part" => {
            let c = component(&need!(s(0))).ok_or_else(|| {
                format!(
                    "date_part: unknown component `{}`",
                    s(0).unwrap_or_default()
                )
            })?;
            let t = need!(a.get(1).and_then(as_time));
            Dv::Int(match c {
                "year" => i64::from(t.year()),
                "quarter" => i64::from((t.month() - 1) / 3 + 1),
                "month" => i64::from(t.month()),
                "dayofyear" => i64::from(t.ordinal()),
                "day" => i64::from(t.day()),
                "week" => i64::from(t.iso_week().week()),
                "weekday" => i64::from(t.weekday().number_from_sunday()),
                "hour" => i64::from(t.hour()),
                "minute" => i64::from(t.minute()),
                "second" => i64::from(t.second()),
                _ => i64::from(t.timestamp_subsec_millis()),
            })
        }
        "set_date_part" => {
            let c = component(&need!(s(0))).ok_or_else(|| {
                format!(
                    "set_date_part: unknown component `{}`",
                    s(0).unwrap_or_default()
                )
            })?;
            let v = need!(int(1));
            let t = need!(a.get(2).and_then(as_time));
            let v32 =
                u32::try_from(v).map_err(|_| format!("set_date_part: {v} is out of range"))?;
            let out = match c {
                "year" => t.with_year(v as i32),
                "month" => t.with_month(v32),
                "day" => t.with_day(v32),
                "hour" => t.with_hour(v32),
                "minute" => t.with_minute(v32),
                "second" => t.with_second(v32),
                "millisecond" => t.with_nanosecond(v32 * 1_000_000),
                other => return Err(format!("set_date_part cannot set `{other}`")),
            };
            out.map_or(Dv::Null, Dv::Time)
        }
        "make_date_time" | "make_timestamp" => {
            let n: Vec<i64> = (0..7).map(|i| int(i).unwrap_or(0)).collect();
            let zone = s(7).unwrap_or_else(|| "UTC".into());
            let tz: chrono_tz::Tz = zone
                .parse()
                .map_err(|_| format!("unknown timezone `{zone}`"))?;
            let local =
                NaiveDate::from_ymd_opt(n[0] as i32, n[1] as u32, n[2] as u32).and_then(|d| {
                    d.and_hms_nano_opt(n[3] as u32, n[4] as u32, n[5] as u32, n[6] as u32)
                });
            match local.and_then(|l| tz.from_local_datetime(&l).earliest()) {
                Some(t) => Dv::Time(t.fixed_offset()),
                None => Dv::Null,
            }
        }
        "zone_date_to_utc" => Dv::Time(utc(need!(a.first().and_then(as_time)).with_timezone(&Utc))),
        "zone_date_to_zone" => Dv::Time(in_zone(need!(a.first().and_then(as_time)), &need!(s(1)))?),
        "is_empty" => Dv::Bool(match &a[0] {
            Dv::Null => true,
            Dv::Str(x) => x.is_empty(),
            Dv::List(l) => l.is_empty(),
            Dv::Map(m) => m.is_empty(),
            _ => false,
        }),
        "to_object" | "object_to_map" => {
            if a.len() == 1 {
                return Ok(a[0].as_map().map_or(Dv::Null, Dv::Map));
            }
            let mut m = BTreeMap::new();
            for pair in a.chunks(2) {
                if let (Some(k), Some(v)) = (pair.first().and_then(text), pair.get(1)) {
                    m.insert(k.into_owned(), v.clone());
                }
            }
            Dv::Map(m)
        }
        "str_to_object" => {
            let input = need!(s(0));
            Dv::Map(str_to_map(
                &input,
                &s(1).unwrap_or_else(|| ":".into()),
                &s(2).unwrap_or_else(|| ",".into()),
            ))
        }
        "get" => {
            let m = need!(a.first().and_then(Dv::as_map));
            m.get(&*need!(s(1))).cloned().unwrap_or(Dv::Null)
        }
        "contains_key" => {
            let m = need!(a.first().and_then(Dv::as_map));
            Dv::Bool(m.get(&*need!(s(1))).is_some_and(|v| !v.is_null()))
        }
        "nullify" => Dv::Null,
        "get_keys" => Dv::List(
            need!(a.first().and_then(Dv::as_map))
                .into_keys()
                .map(Dv::Str)
                .collect(),
        ),
        "get_values" => {
            let input = need!(s(0));
            let m = str_to_map(
                &input,
                &s(2).unwrap_or_else(|| ":".into()),
                &s(3).unwrap_or_else(|| ",".into()),
            );
            m.get(&*need!(s(1))).cloned().unwrap_or(Dv::Null)
        }
        "map_get_values" | "map_has_keys" => {
            let m = need!(a.first().and_then(Dv::as_map));
            let keys: Vec<String> = match &a[1] {
                Dv::List(l) => l.iter().filter_map(text).map(Cow::into_owned).collect(),
                other => text(other).into_iter().map(Cow::into_owned).collect(),
            };
            match (name, &a[1]) {
                ("map_has_keys", _) => {
                    Dv::Bool(!keys.is_empty() && keys.iter().all(|k| m.contains_key(k)))
                }
                (_, Dv::List(_)) => Dv::List(
                    keys.iter()
                        .map(|k| m.get(k).cloned().unwrap_or(Dv::Null))
                        .collect(),
                ),
                _ => keys
                    .first()
                    .and_then(|k| m.get(k))
                    .cloned()
                    .unwrap_or(Dv::Null),
            }
        }
        "add_to_map" => {
            let mut out = BTreeMap::new();
            for m in a.iter().filter_map(Dv::as_map) {
                for (k, v) in m {
                    out.entry(k).or_insert(v);
                }
            }
            Dv::Map(out)
        }
        "coalesce" => a.iter().find(|v| !v.is_null()).cloned().unwrap_or(Dv::Null),
        "first" => need!(a[0].as_list()).into_iter().next().unwrap_or(Dv::Null),
        "last" => need!(a[0].as_list()).pop().unwrap_or(Dv::Null),
        "add_to_array" => {
            let mut l = a[0].as_list().unwrap_or_default();
            l.extend(a[1..].iter().cloned());
            Dv::List(l)
        }
        "join_arrays" => Dv::List(a.iter().filter_map(Dv::as_list).flatten().collect()),
        "to_array" => {
            let keep_nulls = a[0].truthy();
            Dv::List(
                a[1..]
                    .iter()
                    .filter(|v| keep_nulls || !v.is_null())
                    .cloned()
                    .collect(),
            )
        }
        "size_of" => Dv::Int(match &a[0] {
            Dv::Null => return Ok(Dv::Null),
            Dv::Str(x) => x.chars().count() as i64,
            Dv::List(l) => l.len() as i64,
            Dv::Map(m) => m.len() as i64,
            _ => 1,
        }),
        "decode" => {
            let key = &a[0];
            let rest = &a[1..];
            let mut pairs = rest.chunks_exact(2);
            for p in pairs.by_ref() {
                if &p[0] == key || (text(&p[0]).is_some() && text(&p[0]) == text(key)) {
                    return Ok(p[1].clone());
                }
            }
            pairs.remainder().first().cloned().unwrap_or(Dv::Null)
        }
        "iif" => {
            if a[0].truthy() {
                a[1].clone()
            } else {
                a[2].clone()
            }
        }
        "min" | "max" => {
            let mut best: Option<&Dv> = None;
            for v in a.iter().filter(|v| !v.is_null()) {
                best = match best {
                    None => Some(v),
                    Some(b) => match numeric_cmp(v, b) {
                        Some(std::cmp::Ordering::Less) if name == "min" => Some(v),
                        Some(std::cmp::Ordering::Greater) if name == "max" => Some(v),
                        _ => Some(b),
                    },
                };
            }
            best.cloned().unwrap_or(Dv::Null)
        }
        "to_bigint" | "to_integer" => match &a[0] {
            Dv::Null => Dv::Null,
            v => Dv::Int(
                v.as_i64()
                    .ok_or_else(|| format!("{name}: cannot convert {} to an integer", v.kind()))?,
            ),
        },
        "to_decimal" | "to_float" => match &a[0] {
            Dv::Null => Dv::Null,
            v => Dv::Float(
                v.as_f64()
                    .ok_or_else(|| format!("{name}: cannot convert {} to a number", v.kind()))?,
            ),
        },
        "json_to_object" => {
            let input = need!(s(0));
            Dv::from_json(
                &serde_json::from_str(&input)
                    .map_err(|e| format!("json_to_object: not JSON: {e}"))?,
            )
        }
        "uuid" | "guid" => Dv::Str(uuid_v4()),
        other => return Err(format!("unknown function `{other}`")),
    })
}
