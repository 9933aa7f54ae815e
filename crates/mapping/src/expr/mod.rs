//! Expressions: parsed once, checked against the stream schema (every problem at once, with a
//! caret under the token and the closest known name), compiled to a tree whose field
//! references are slots filled from the cells the scanner decodes, and evaluated per record.

pub mod funcs;
pub mod parse;
pub mod value;

use std::cmp::Ordering;

use sluice_core::StreamSchema;

use crate::plan::ValueType;
use funcs::{FnSpec, Ret};
use parse::{BinOp, Expr, ExprError, Lit, UnOp};
use sluice_core::suggest::closest;
use value::Dv;

/// A compiled expression: field references are slots.
#[derive(Debug, Clone)]
pub enum Node {
    /// A field the expression reads more than once: each use copies it.
    Slot(usize),
    /// A field read once: its value is moved out, not copied (the slots are refilled for
    /// every record).
    Take(usize),
    Lit(Dv),
    Call(&'static FnSpec, Vec<Node>),
    Unary(UnOp, Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
}

/// An expression ready to run: its tree, the fields it reads (one per slot), its result type.
#[derive(Debug, Clone)]
pub struct CompiledExpr {
    pub node: Node,
    pub fields: Vec<(Vec<String>, ValueType)>,
    pub ty: ValueType,
}

struct Ctx<'a> {
    schema: Option<&'a StreamSchema>,
    resolve: &'a dyn Fn(&str) -> Option<String>,
    fields: Vec<(Vec<String>, ValueType)>,
    errors: Vec<ExprError>,
    known_paths: Vec<String>,
}

fn lit_type(v: &Dv) -> ValueType {
    match v {
        Dv::Bool(_) => ValueType::Boolean,
        Dv::Int(_) => ValueType::Int64,
        Dv::Float(_) => ValueType::Float64,
        Dv::Time(_) => ValueType::Timestamp,
        _ => ValueType::Utf8,
    }
}

fn unify(types: &[ValueType]) -> ValueType {
    let mut it = types.iter();
    let Some(first) = it.next() else {
        return ValueType::Utf8;
    };
    let mut t = first.clone();
    for u in it {
        t = match (&t, u) {
            (a, b) if a == b => t,
            (ValueType::Int64, ValueType::Float64) | (ValueType::Float64, ValueType::Int64) => {
                ValueType::Float64
            }
            _ => ValueType::JsonText,
        };
    }
    t
}

impl Ctx<'_> {
    fn compile(&mut self, e: &Expr) -> (Node, ValueType) {
        match e {
            Expr::Lit { value, .. } => {
                let v = match value {
                    Lit::Null => Dv::Null,
                    Lit::Bool(b) => Dv::Bool(*b),
                    Lit::Int(i) => Dv::Int(*i),
                    Lit::Float(f) => Dv::Float(*f),
                    Lit::Str(s) => Dv::Str(s.clone()),
                };
                let t = lit_type(&v);
                (Node::Lit(v), t)
            }
            Expr::Field { path, span } => {
                let joined = path.join(".");
                let mut parts: Vec<String> = path.clone();
                let declared = |p: &[String]| {
                    let refs: Vec<&str> = p.iter().map(String::as_str).collect();
                    self.schema.and_then(|s| s.lookup(&refs).cloned())
                };
                let mut ty = match self.schema {
                    None => Some(sluice_core::FieldType::Json),
                    Some(_) => declared(&parts),
                };
                if ty.is_none() {
                    if let Some(target) = (self.resolve)(&joined) {
                        parts = target.split('.').map(str::to_string).collect();
                        ty = declared(&parts);
                    }
                }
                let Some(ty) = ty else {
                    let hint = closest(&joined, self.known_paths.iter().map(String::as_str))
                        .map(|c| format!("; did you mean `{c}`?"))
                        .unwrap_or_default();
                    self.errors.push(ExprError::new(
                        format!("`{joined}` is not a field of the stream{hint}"),
                        *span,
                    ));
                    return (Node::Lit(Dv::Null), ValueType::Utf8);
                };
                let vt = ValueType::from_field_type(&ty);
                let slot = match self.fields.iter().position(|(p, _)| *p == parts) {
                    Some(i) => i,
                    None => {
                        self.fields.push((parts, vt.clone()));
                        self.fields.len() - 1
                    }
                };
                (Node::Slot(slot), vt)
            }
            Expr::Unary { op, expr, .. } => {
                let (n, t) = self.compile(expr);
                let ty = match op {
                    UnOp::Not => ValueType::Boolean,
                    UnOp::Neg => t,
                };
                (Node::Unary(*op, Box::new(n)), ty)
            }
            Expr::Binary { op, lhs, rhs, .. } => {
                let (l, lt) = self.compile(lhs);
                let (r, rt) = self.compile(rhs);
                let ty = match op {
                    BinOp::Or
                    | BinOp::And
                    | BinOp::Eq
                    | BinOp::Ne
                    | BinOp::Lt
                    | BinOp::Le
                    | BinOp::Gt
                    | BinOp::Ge => ValueType::Boolean,
                    BinOp::Add if lt == ValueType::Utf8 || rt == ValueType::Utf8 => ValueType::Utf8,
                    BinOp::Div => ValueType::Float64,
                    _ if lt == ValueType::Int64 && rt == ValueType::Int64 => ValueType::Int64,
                    _ => ValueType::Float64,
                };
                (Node::Binary(*op, Box::new(l), Box::new(r)), ty)
            }
            Expr::Call { name, args, span } => {
                let compiled: Vec<(Node, ValueType)> =
                    args.iter().map(|a| self.compile(a)).collect();
                let Some(spec) = funcs::spec(name) else {
                    let hint = closest(name, funcs::FUNCTIONS.iter().map(|f| f.name))
                        .map(|c| format!("; did you mean `{c}`?"))
                        .unwrap_or_else(|| "; see docs/functions.md".into());
                    let name_span = (span.0, span.0 + name.len());
                    self.errors.push(ExprError::new(
                        format!("unknown function `{name}`{hint}"),
                        name_span,
                    ));
                    return (Node::Lit(Dv::Null), ValueType::Utf8);
                };
                if args.len() < spec.min || args.len() > spec.max {
                    let want = match (spec.min, spec.max) {
                        (a, b) if a == b => format!("{a}"),
                        (a, usize::MAX) => format!("at least {a}"),
                        (a, b) => format!("{a} to {b}"),
                    };
                    self.errors.push(ExprError::new(
                        format!(
                            "`{name}` takes {want} argument{}, not {}; e.g. {}",
                            if want == "1" { "" } else { "s" },
                            args.len(),
                            spec.example
                        ),
                        *span,
                    ));
                }
                let types: Vec<ValueType> = compiled.iter().map(|(_, t)| t.clone()).collect();
                let ty = match spec.ret {
                    Ret::Str => ValueType::Utf8,
                    Ret::Int => ValueType::Int64,
                    Ret::Float => ValueType::Float64,
                    Ret::Bool => ValueType::Boolean,
                    Ret::Time => ValueType::Timestamp,
                    Ret::ListStr => ValueType::List(Box::new(ValueType::Utf8)),
                    Ret::Json => ValueType::JsonText,
                    Ret::Args { from } => {
                        // decode: values sit at odd offsets after the key; a trailing default too
                        let picked: Vec<ValueType> = if spec.name == "decode" {
                            types
                                .iter()
                                .enumerate()
                                .skip(1)
                                .filter(|(i, _)| i % 2 == 0 || *i == types.len() - 1)
                                .map(|(_, t)| t.clone())
                                .collect()
                        } else {
                            types.iter().skip(from).cloned().collect()
                        };
                        unify(&picked)
                    }
                };
                (
                    Node::Call(spec, compiled.into_iter().map(|(n, _)| n).collect()),
                    ty,
                )
            }
        }
    }
}

/// Parse and check an expression against `schema`; `resolve` maps a stream's aliases.
pub fn compile_expression(
    source: &str,
    schema: Option<&StreamSchema>,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Result<CompiledExpr, Vec<ExprError>> {
    let expr = parse::parse(source).map_err(|e| vec![e])?;
    let mut ctx = Ctx {
        schema,
        resolve,
        fields: Vec::new(),
        errors: Vec::new(),
        known_paths: schema.map(|s| s.leaf_paths()).unwrap_or_default(),
    };
    let (mut node, ty) = ctx.compile(&expr);
    if ctx.errors.is_empty() {
        let mut uses = vec![0usize; ctx.fields.len()];
        count_uses(&node, &mut uses);
        take_single_uses(&mut node, &uses);
        Ok(CompiledExpr {
            node,
            fields: ctx.fields,
            ty,
        })
    } else {
        Err(ctx.errors)
    }
}

fn count_uses(node: &Node, uses: &mut [usize]) {
    match node {
        Node::Slot(i) | Node::Take(i) => {
            if let Some(n) = uses.get_mut(*i) {
                *n += 1;
            }
        }
        Node::Lit(_) => {}
        Node::Call(_, args) => args.iter().for_each(|a| count_uses(a, uses)),
        Node::Unary(_, e) => count_uses(e, uses),
        Node::Binary(_, l, r) => {
            count_uses(l, uses);
            count_uses(r, uses);
        }
    }
}

fn take_single_uses(node: &mut Node, uses: &[usize]) {
    match node {
        Node::Slot(i) if uses.get(*i) == Some(&1) => *node = Node::Take(*i),
        Node::Slot(_) | Node::Take(_) | Node::Lit(_) => {}
        Node::Call(_, args) => args.iter_mut().for_each(|a| take_single_uses(a, uses)),
        Node::Unary(_, e) => take_single_uses(e, uses),
        Node::Binary(_, l, r) => {
            take_single_uses(l, uses);
            take_single_uses(r, uses);
        }
    }
}

fn values_equal(a: &Dv, b: &Dv) -> bool {
    match (a, b) {
        (Dv::Null, Dv::Null) => true,
        (Dv::Null, _) | (_, Dv::Null) => false,
        _ => funcs::compare(a, b) == Some(Ordering::Equal) || a.to_text() == b.to_text(),
    }
}

/// Calls with at most this many arguments evaluate them on the stack.
const SMALL_CALL: usize = 4;

/// Evaluate with the slot values of one record; the values of fields read once are moved out.
pub fn eval(node: &Node, slots: &mut [Dv]) -> Result<Dv, String> {
    Ok(match node {
        Node::Slot(i) => slots.get(*i).cloned().unwrap_or(Dv::Null),
        Node::Take(i) => slots.get_mut(*i).map(std::mem::take).unwrap_or(Dv::Null),
        Node::Lit(v) => v.clone(),
        Node::Call(spec, args) => {
            let called = if args.len() <= SMALL_CALL {
                // most calls take a few arguments: no allocation per call for them
                let mut values: [Dv; SMALL_CALL] = Default::default();
                for (v, a) in values.iter_mut().zip(args) {
                    *v = eval(a, slots)?;
                }
                funcs::call(spec.name, &values[..args.len()])
            } else {
                let values: Vec<Dv> = args
                    .iter()
                    .map(|a| eval(a, slots))
                    .collect::<Result<_, _>>()?;
                funcs::call(spec.name, &values)
            };
            called.map_err(|e| format!("{}: {e}", spec.name))?
        }
        Node::Unary(UnOp::Not, e) => Dv::Bool(!eval(e, slots)?.truthy()),
        Node::Unary(UnOp::Neg, e) => match eval(e, slots)? {
            Dv::Int(i) => Dv::Int(-i),
            Dv::Null => Dv::Null,
            v => v.as_f64().map_or(Dv::Null, |f| Dv::Float(-f)),
        },
        Node::Binary(op, l, r) => {
            let a = eval(l, slots)?;
            match op {
                BinOp::And => return Ok(Dv::Bool(a.truthy() && eval(r, slots)?.truthy())),
                BinOp::Or => return Ok(Dv::Bool(a.truthy() || eval(r, slots)?.truthy())),
                _ => {}
            }
            let b = eval(r, slots)?;
            match op {
                BinOp::Eq => Dv::Bool(values_equal(&a, &b)),
                BinOp::Ne => Dv::Bool(!values_equal(&a, &b)),
                BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => match funcs::compare(&a, &b) {
                    None => Dv::Null,
                    Some(o) => Dv::Bool(match op {
                        BinOp::Lt => o == Ordering::Less,
                        BinOp::Le => o != Ordering::Greater,
                        BinOp::Gt => o == Ordering::Greater,
                        _ => o != Ordering::Less,
                    }),
                },
                _ if a.is_null() || b.is_null() => Dv::Null,
                BinOp::Add if matches!(a, Dv::Str(_)) || matches!(b, Dv::Str(_)) => {
                    Dv::Str(format!(
                        "{}{}",
                        a.to_text().unwrap_or_default(),
                        b.to_text().unwrap_or_default()
                    ))
                }
                _ => match (&a, &b, op) {
                    (Dv::Int(x), Dv::Int(y), BinOp::Add) => {
                        x.checked_add(*y).map_or(Dv::Null, Dv::Int)
                    }
                    (Dv::Int(x), Dv::Int(y), BinOp::Sub) => {
                        x.checked_sub(*y).map_or(Dv::Null, Dv::Int)
                    }
                    (Dv::Int(x), Dv::Int(y), BinOp::Mul) => {
                        x.checked_mul(*y).map_or(Dv::Null, Dv::Int)
                    }
                    (Dv::Int(x), Dv::Int(y), BinOp::Rem) => {
                        x.checked_rem(*y).map_or(Dv::Null, Dv::Int)
                    }
                    _ => {
                        let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
                            return Err(format!(
                                "cannot do arithmetic on {} and {}",
                                a.kind(),
                                b.kind()
                            ));
                        };
                        match op {
                            BinOp::Add => Dv::Float(x + y),
                            BinOp::Sub => Dv::Float(x - y),
                            BinOp::Mul => Dv::Float(x * y),
                            BinOp::Div if y == 0.0 => Dv::Null,
                            BinOp::Div => Dv::Float(x / y),
                            _ if y == 0.0 => Dv::Null,
                            _ => Dv::Float(x % y),
                        }
                    }
                },
            }
        }
    })
}
