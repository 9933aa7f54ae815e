//! The expression language of Adobe Data Prep (JEXL-like): field references (dot paths, and
//! `${…}` for names that are not identifiers or are reserved words), string, number, boolean and
//! null literals, function calls (and `value.equals(…)`-style method calls), comparison, boolean
//! and arithmetic operators. Every node keeps its byte span, so errors point at the token.

use std::fmt;

pub type Span = (usize, usize);

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Not,
    Neg,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Field {
        path: Vec<String>,
        span: Span,
    },
    Lit {
        value: Lit,
        span: Span,
    },
    Call {
        name: String,
        args: Vec<Expr>,
        span: Span,
    },
    Unary {
        op: UnOp,
        expr: Box<Expr>,
        span: Span,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        span: Span,
    },
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Field { span, .. }
            | Expr::Lit { span, .. }
            | Expr::Call { span, .. }
            | Expr::Unary { span, .. }
            | Expr::Binary { span, .. } => *span,
        }
    }
}

/// A problem in an expression, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub message: String,
    pub span: Span,
}

impl ExprError {
    pub fn new(message: impl Into<String>, span: Span) -> Self {
        Self {
            message: message.into(),
            span,
        }
    }

    /// The message, the expression, and a caret line under the offending part.
    pub fn render(&self, source: &str) -> String {
        let start = source[..self.span.0.min(source.len())].chars().count();
        let width = source
            .get(self.span.0.min(source.len())..self.span.1.min(source.len()))
            .map_or(1, |s| s.chars().count().max(1));
        format!(
            "{}\n      {source}\n      {}{}",
            self.message,
            " ".repeat(start),
            "^".repeat(width)
        )
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Words that must be wrapped as `${…}` to be field names (Data Prep's list).
pub const RESERVED: &[&str] = &[
    "new", "mod", "or", "break", "var", "lt", "for", "false", "while", "eq", "gt", "div", "not",
    "null", "continue", "else", "and", "ne", "true", "le", "if", "ge", "return", "_errors", "do",
    "function", "empty", "size",
];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Wrapped(String),
    Str(String),
    Num(String),
    LParen,
    RParen,
    Comma,
    Dot,
    Op(&'static str),
    End,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn next(&mut self) -> Result<(Tok, Span), ExprError> {
        let bytes = self.src.as_bytes();
        while self.pos < bytes.len() && bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(&b) = bytes.get(self.pos) else {
            return Ok((Tok::End, (start, start)));
        };
        let two = self.src.get(self.pos..self.pos + 2).unwrap_or("");
        for op in ["==", "!=", "<=", ">=", "&&", "||"] {
            if two == op {
                self.pos += 2;
                return Ok((Tok::Op(op), (start, self.pos)));
            }
        }
        let single = |t: Tok, l: &mut Lexer<'_>| {
            l.pos += 1;
            Ok((t, (start, start + 1)))
        };
        match b {
            b'(' => single(Tok::LParen, self),
            b')' => single(Tok::RParen, self),
            b',' => single(Tok::Comma, self),
            b'.' if !bytes.get(self.pos + 1).is_some_and(u8::is_ascii_digit) => {
                single(Tok::Dot, self)
            }
            b'<' => single(Tok::Op("<"), self),
            b'>' => single(Tok::Op(">"), self),
            b'!' => single(Tok::Op("!"), self),
            b'+' => single(Tok::Op("+"), self),
            b'-' => single(Tok::Op("-"), self),
            b'*' => single(Tok::Op("*"), self),
            b'/' => single(Tok::Op("/"), self),
            b'%' => single(Tok::Op("%"), self),
            b'"' | b'\'' => {
                let quote = b as char;
                let mut out = String::new();
                let mut chars = self.src[self.pos + 1..].char_indices();
                while let Some((i, c)) = chars.next() {
                    if c == quote {
                        self.pos += 1 + i + 1;
                        return Ok((Tok::Str(out), (start, self.pos)));
                    }
                    if c == '\\' {
                        match chars.next() {
                            Some((_, 'n')) => out.push('\n'),
                            Some((_, 't')) => out.push('\t'),
                            Some((_, other)) => out.push(other),
                            None => break,
                        }
                    } else {
                        out.push(c);
                    }
                }
                Err(ExprError::new(
                    "unterminated string literal",
                    (start, self.src.len()),
                ))
            }
            b'$' if bytes.get(self.pos + 1) == Some(&b'{') => {
                match self.src[self.pos..].find('}') {
                    Some(end) => {
                        let name = self.src[self.pos + 2..self.pos + end].to_string();
                        self.pos += end + 1;
                        Ok((Tok::Wrapped(name), (start, self.pos)))
                    }
                    None => Err(ExprError::new(
                        "`${` without its closing `}`",
                        (start, self.src.len()),
                    )),
                }
            }
            b'0'..=b'9' | b'.' => {
                while self.pos < bytes.len()
                    && (bytes[self.pos].is_ascii_digit() || bytes[self.pos] == b'.')
                {
                    self.pos += 1;
                }
                if self.pos < bytes.len() && matches!(bytes[self.pos], b'e' | b'E') {
                    self.pos += 1;
                    if self.pos < bytes.len() && matches!(bytes[self.pos], b'+' | b'-') {
                        self.pos += 1;
                    }
                    while self.pos < bytes.len() && bytes[self.pos].is_ascii_digit() {
                        self.pos += 1;
                    }
                }
                Ok((
                    Tok::Num(self.src[start..self.pos].to_string()),
                    (start, self.pos),
                ))
            }
            _ => {
                let rest = &self.src[self.pos..];
                let len: usize = rest
                    .char_indices()
                    .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '$'))
                    .map_or(rest.len(), |(i, _)| i);
                if len == 0 {
                    let c = rest.chars().next().unwrap_or(' ');
                    return Err(ExprError::new(
                        format!("unexpected character `{c}`"),
                        (start, start + c.len_utf8()),
                    ));
                }
                self.pos += len;
                Ok((Tok::Ident(rest[..len].to_string()), (start, self.pos)))
            }
        }
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    tok: Tok,
    span: Span,
}

/// Methods callable as `value.method(args)`: `a.equals(b)` is `equals(a, b)`.
const METHODS: &[&str] = &["equals", "equalsIgnoreCase", "get"];

impl<'a> Parser<'a> {
    fn bump(&mut self) -> Result<(Tok, Span), ExprError> {
        let next = self.lexer.next()?;
        Ok((
            std::mem::replace(&mut self.tok, next.0),
            std::mem::replace(&mut self.span, next.1),
        ))
    }

    fn word_op(&self) -> Option<&'static str> {
        match &self.tok {
            Tok::Op(op) => Some(op),
            Tok::Ident(w) => match w.as_str() {
                "and" => Some("&&"),
                "or" => Some("||"),
                "eq" => Some("=="),
                "ne" => Some("!="),
                "lt" => Some("<"),
                "le" => Some("<="),
                "gt" => Some(">"),
                "ge" => Some(">="),
                "not" => Some("!"),
                _ => None,
            },
            _ => None,
        }
    }

    fn binary(&mut self, min_prec: u8) -> Result<Expr, ExprError> {
        let mut lhs = self.unary()?;
        while let Some(op) = self.word_op() {
            let (bin, prec) = match op {
                "||" => (BinOp::Or, 1),
                "&&" => (BinOp::And, 2),
                "==" => (BinOp::Eq, 3),
                "!=" => (BinOp::Ne, 3),
                "<" => (BinOp::Lt, 4),
                "<=" => (BinOp::Le, 4),
                ">" => (BinOp::Gt, 4),
                ">=" => (BinOp::Ge, 4),
                "+" => (BinOp::Add, 5),
                "-" => (BinOp::Sub, 5),
                "*" => (BinOp::Mul, 6),
                "/" => (BinOp::Div, 6),
                "%" => (BinOp::Rem, 6),
                _ => break,
            };
            if prec < min_prec {
                break;
            }
            self.bump()?;
            let rhs = self.binary(prec + 1)?;
            let span = (lhs.span().0, rhs.span().1);
            lhs = Expr::Binary {
                op: bin,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                span,
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        match self.word_op() {
            Some("!") => {
                let (_, span) = self.bump()?;
                let e = self.unary()?;
                let span = (span.0, e.span().1);
                Ok(Expr::Unary {
                    op: UnOp::Not,
                    expr: Box::new(e),
                    span,
                })
            }
            Some("-") => {
                let (_, span) = self.bump()?;
                let e = self.unary()?;
                let span = (span.0, e.span().1);
                Ok(Expr::Unary {
                    op: UnOp::Neg,
                    expr: Box::new(e),
                    span,
                })
            }
            _ => self.postfix(),
        }
    }

    fn args(&mut self) -> Result<(Vec<Expr>, usize), ExprError> {
        // the `(` is current
        self.bump()?;
        let mut args = Vec::new();
        if self.tok == Tok::RParen {
            let (_, span) = self.bump()?;
            return Ok((args, span.1));
        }
        loop {
            args.push(self.binary(1)?);
            match self.tok {
                Tok::Comma => {
                    self.bump()?;
                }
                Tok::RParen => {
                    let (_, span) = self.bump()?;
                    return Ok((args, span.1));
                }
                _ => {
                    return Err(ExprError::new(
                        "expected `,` or `)` in the argument list",
                        self.span,
                    ))
                }
            }
        }
    }

    fn postfix(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.primary()?;
        while self.tok == Tok::Dot {
            self.bump()?;
            let (name, nspan) = match self.bump()? {
                (Tok::Ident(n), s) => (n, s),
                (Tok::Wrapped(n), s) => (n, s),
                (_, s) => return Err(ExprError::new("expected a field name after `.`", s)),
            };
            if self.tok == Tok::LParen && METHODS.contains(&name.as_str()) {
                let (mut args, end) = self.args()?;
                let span = (e.span().0, end);
                args.insert(0, e);
                e = Expr::Call { name, args, span };
                continue;
            }
            e = match e {
                Expr::Field { mut path, span } => {
                    path.push(name);
                    Expr::Field {
                        path,
                        span: (span.0, nspan.1),
                    }
                }
                other => {
                    return Err(ExprError::new(
                        format!(
                            "`.{name}`: only fields have sub-fields, and only {} are methods",
                            METHODS.join(", ")
                        ),
                        (other.span().0, nspan.1),
                    ))
                }
            };
        }
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr, ExprError> {
        let (tok, span) = self.bump()?;
        Ok(match tok {
            Tok::Str(s) => Expr::Lit {
                value: Lit::Str(s),
                span,
            },
            Tok::Num(n) => {
                let value = match n.parse::<i64>() {
                    Ok(i) => Lit::Int(i),
                    Err(_) => Lit::Float(
                        n.parse::<f64>()
                            .map_err(|_| ExprError::new(format!("`{n}` is not a number"), span))?,
                    ),
                };
                Expr::Lit { value, span }
            }
            Tok::LParen => {
                let e = self.binary(1)?;
                if self.tok != Tok::RParen {
                    return Err(ExprError::new("expected `)`", self.span));
                }
                self.bump()?;
                e
            }
            Tok::Wrapped(name) => Expr::Field {
                path: vec![name],
                span,
            },
            Tok::Ident(word) => match word.as_str() {
                "true" => Expr::Lit {
                    value: Lit::Bool(true),
                    span,
                },
                "false" => Expr::Lit {
                    value: Lit::Bool(false),
                    span,
                },
                "null" => Expr::Lit {
                    value: Lit::Null,
                    span,
                },
                _ if self.tok == Tok::LParen => {
                    let (args, end) = self.args()?;
                    Expr::Call {
                        name: word,
                        args,
                        span: (span.0, end),
                    }
                }
                w if RESERVED.contains(&w) => {
                    return Err(ExprError::new(
                        format!("`{w}` is a reserved word: write a field of that name as ${{{w}}}"),
                        span,
                    ))
                }
                _ => Expr::Field {
                    path: vec![word],
                    span,
                },
            },
            Tok::End => return Err(ExprError::new("the expression ends too early", span)),
            other => {
                let text = match other {
                    Tok::Op(o) => o.to_string(),
                    Tok::RParen => ")".into(),
                    Tok::Comma => ",".into(),
                    Tok::Dot => ".".into(),
                    _ => "token".into(),
                };
                return Err(ExprError::new(format!("unexpected `{text}`"), span));
            }
        })
    }
}

pub fn parse(src: &str) -> Result<Expr, ExprError> {
    let mut lexer = Lexer { src, pos: 0 };
    let (tok, span) = lexer.next()?;
    let mut p = Parser { lexer, tok, span };
    let e = p.binary(1)?;
    if p.tok != Tok::End {
        return Err(ExprError::new(
            "unexpected text after the expression",
            (p.span.0, src.len()),
        ));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_calls_fields_operators_and_methods() {
        let e = parse("iif(results.active && !results.suspended, upper(${First Name}), 'x' + 1)")
            .expect("parses");
        let Expr::Call { name, args, .. } = e else {
            panic!("a call")
        };
        assert_eq!(name, "iif");
        assert_eq!(args.len(), 3);
        assert!(
            matches!(&args[1], Expr::Call { name, args, .. } if name == "upper" && matches!(&args[0], Expr::Field { path, .. } if path == &["First Name"]))
        );
        let e = parse("results.name.equals(\"x\")").expect("method");
        assert!(
            matches!(e, Expr::Call { ref name, ref args, .. } if name == "equals" && args.len() == 2)
        );
        let e = parse("1 + 2 * 3 == 7 and not false").expect("precedence");
        assert!(matches!(e, Expr::Binary { op: BinOp::And, .. }));
    }

    #[test]
    fn errors_point_at_the_token() {
        let src = "upper(results.name,)";
        let err = parse(src).unwrap_err();
        assert_eq!(&src[err.span.0..err.span.1], ")");
        let rendered = err.render(src);
        assert!(
            rendered.contains("unexpected `)`")
                && rendered.lines().nth(2).is_some_and(|l| l.trim() == "^"),
            "{rendered}"
        );
        assert!(parse("size + 1").unwrap_err().message.contains("${size}"));
        assert!(parse("'open").unwrap_err().message.contains("unterminated"));
        assert!(parse("a b").is_err());
    }
}
