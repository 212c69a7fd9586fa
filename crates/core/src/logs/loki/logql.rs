//! The LogQL edgesoc answers (docs/dashboard.md §7.7), parsed into a small tree:
//! * log queries: a stream selector `{label op "value", …}` (`=`, `!=`, `=~`, `!~`) and line
//!   filters (`|= "text"`, `!= "text"`, `|~ "re"`, `!~ "re"`); `| drop __error__` is accepted
//!   and does nothing (edgesoc has no parse stages, so no parse errors);
//! * metric queries: `count_over_time(<log query>[range])` and `rate(…)`, alone or in
//!   `sum(…)`, `sum by (labels) (…)` or `sum(…) by (labels)`;
//! * `vector(n)`, and sums of them (Grafana's health check sends `vector(1)+vector(1)`).
//!
//! Anything else is a 400 naming what is not supported. Regular expressions are RE2-like
//! (`regex-lite`); label matchers are anchored at both ends, as in Loki.

use super::Label;
use crate::api::error::ApiError;
use regex_lite::Regex;

/// Longest query text accepted.
pub const MAX_QUERY_BYTES: usize = 4096;
/// Most matchers or line filters in one selector.
pub const MAX_TERMS: usize = 32;

/// A parsed query.
#[derive(Debug, Clone)]
pub enum Expr {
    Log(Selector),
    Metric(Metric),
    /// `vector(a) + vector(b) + …`: a constant.
    Vector(f64),
}

/// A stream selector and its line filters.
#[derive(Debug, Clone)]
pub struct Selector {
    pub matchers: Vec<Matcher>,
    pub filters: Vec<LineFilter>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Eq,
    Ne,
    Re,
    NotRe,
}

/// One label matcher; `label` is `None` for a label edgesoc does not have (its value is empty).
#[derive(Debug, Clone)]
pub struct Matcher {
    pub label: Option<Label>,
    pub op: MatchOp,
    pub value: String,
    regex: Option<Regex>,
}

impl Matcher {
    /// Whether a stream whose label has `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self.op {
            MatchOp::Eq => value == self.value,
            MatchOp::Ne => value != self.value,
            MatchOp::Re => self.regex.as_ref().is_some_and(|r| r.is_match(value)),
            MatchOp::NotRe => !self.regex.as_ref().is_some_and(|r| r.is_match(value)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Contains,
    NotContains,
    Re,
    NotRe,
}

#[derive(Debug, Clone)]
pub struct LineFilter {
    pub op: FilterOp,
    pub value: String,
    regex: Option<Regex>,
}

impl LineFilter {
    /// Whether `line` passes (`|=` and `!=` are case-sensitive substring tests, as in Loki).
    pub fn passes(&self, line: &str) -> bool {
        match self.op {
            FilterOp::Contains => line.contains(&self.value),
            FilterOp::NotContains => !line.contains(&self.value),
            FilterOp::Re => self.regex.as_ref().is_some_and(|r| r.is_match(line)),
            FilterOp::NotRe => !self.regex.as_ref().is_some_and(|r| r.is_match(line)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeFn {
    CountOverTime,
    Rate,
}

/// A range aggregation, optionally summed.
#[derive(Debug, Clone)]
pub struct Metric {
    pub func: RangeFn,
    pub selector: Selector,
    pub range_ms: i64,
    /// `None`: one series per stream; `Some(labels)`: `sum by (labels)` (`sum` alone: none).
    pub sum_by: Option<Vec<String>>,
}

fn unsupported(what: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(
        "query",
        format!("{what} (docs/dashboard.md §7.7 lists the LogQL edgesoc answers)"),
    )
}

/// Parses `text`; every failure is a 400 on `query`.
pub fn parse(text: &str) -> Result<Expr, ApiError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(ApiError::invalid(
            "query",
            format!("is longer than {MAX_QUERY_BYTES} bytes"),
        ));
    }
    let mut p = Parser { s: text, i: 0 };
    let expr = p.expr()?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.error("unexpected text"));
    }
    Ok(expr)
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.i..]
    }

    fn error(&self, what: &str) -> ApiError {
        let near: String = self.rest().chars().take(24).collect();
        ApiError::invalid(
            "query",
            format!("parse error at byte {}: {what} near {near:?}", self.i),
        )
    }

    fn ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.i = self.s.len() - trimmed.len();
    }

    /// Consumes `tok` (after whitespace) when it comes next.
    fn eat(&mut self, tok: &str) -> bool {
        self.ws();
        if self.rest().starts_with(tok) {
            self.i += tok.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: &str) -> Result<(), ApiError> {
        if self.eat(tok) {
            Ok(())
        } else {
            Err(self.error(&format!("expected `{tok}`")))
        }
    }

    fn ident(&mut self) -> Result<String, ApiError> {
        self.ws();
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest().len());
        if len == 0 || self.rest().starts_with(|c: char| c.is_ascii_digit()) {
            return Err(self.error("expected a name"));
        }
        let name = self.rest()[..len].to_string();
        self.i += len;
        Ok(name)
    }

    /// A `"…"` string with Go escapes, or a `` `…` `` raw string.
    fn string(&mut self) -> Result<String, ApiError> {
        self.ws();
        let mut chars = self.rest().char_indices();
        match chars.next() {
            Some((_, '`')) => {
                let end = self.rest()[1..]
                    .find('`')
                    .ok_or_else(|| self.error("unterminated raw string"))?;
                let out = self.rest()[1..1 + end].to_string();
                self.i += end + 2;
                Ok(out)
            }
            Some((_, '"')) => {
                let mut out = String::new();
                let mut escaped = false;
                for (at, c) in chars {
                    if escaped {
                        out.push(match c {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            other => other,
                        });
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        self.i += at + 1;
                        return Ok(out);
                    } else {
                        out.push(c);
                    }
                }
                Err(self.error("unterminated string"))
            }
            _ => Err(self.error("expected a string")),
        }
    }

    fn expr(&mut self) -> Result<Expr, ApiError> {
        self.ws();
        if self.rest().starts_with('{') {
            return Ok(Expr::Log(self.selector()?));
        }
        let name = self.ident()?;
        match name.as_str() {
            "vector" => {
                let mut total = self.vector_arg()?;
                while self.eat("+") {
                    if self.ident()? != "vector" {
                        return Err(self.error("only vector(n) + vector(n) is supported"));
                    }
                    total += self.vector_arg()?;
                }
                Ok(Expr::Vector(total))
            }
            "sum" => {
                let mut sum_by = self.grouping()?;
                self.expect("(")?;
                let mut metric = self.range_agg()?;
                self.expect(")")?;
                if sum_by.is_none() {
                    sum_by = self.grouping()?;
                }
                metric.sum_by = Some(sum_by.unwrap_or_default());
                Ok(Expr::Metric(metric))
            }
            "count_over_time" | "rate" => {
                self.i -= name.len();
                Ok(Expr::Metric(self.range_agg()?))
            }
            other => Err(unsupported(format!("`{other}` is not supported"))),
        }
    }

    fn vector_arg(&mut self) -> Result<f64, ApiError> {
        self.expect("(")?;
        self.ws();
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e'))
            .unwrap_or(self.rest().len());
        let n: f64 = self.rest()[..len]
            .parse()
            .map_err(|_| self.error("expected a number"))?;
        self.i += len;
        self.expect(")")?;
        Ok(n)
    }

    /// `by (a, b)` after `sum`; `without` is refused.
    fn grouping(&mut self) -> Result<Option<Vec<String>>, ApiError> {
        if self.eat("without") {
            return Err(unsupported("`sum without` is not supported"));
        }
        if !self.eat("by") {
            return Ok(None);
        }
        self.expect("(")?;
        let mut labels = Vec::new();
        if !self.eat(")") {
            loop {
                labels.push(self.ident()?);
                if self.eat(")") {
                    break;
                }
                self.expect(",")?;
            }
        }
        Ok(Some(labels))
    }

    fn range_agg(&mut self) -> Result<Metric, ApiError> {
        let func = match self.ident()?.as_str() {
            "count_over_time" => RangeFn::CountOverTime,
            "rate" => RangeFn::Rate,
            other => return Err(unsupported(format!("`{other}` is not supported"))),
        };
        self.expect("(")?;
        let selector = self.selector()?;
        self.expect("[")?;
        self.ws();
        let end = self
            .rest()
            .find(']')
            .ok_or_else(|| self.error("expected `]`"))?;
        let range_ms = super::parse_duration_ms(self.rest()[..end].trim())
            .filter(|ms| *ms > 0)
            .ok_or_else(|| self.error("expected a duration such as 5m"))?;
        self.i += end + 1;
        self.expect(")")?;
        Ok(Metric {
            func,
            selector,
            range_ms,
            sum_by: None,
        })
    }

    fn selector(&mut self) -> Result<Selector, ApiError> {
        self.expect("{")?;
        let mut matchers = Vec::new();
        loop {
            let name = self.ident()?;
            let op = if self.eat("=~") {
                MatchOp::Re
            } else if self.eat("!~") {
                MatchOp::NotRe
            } else if self.eat("!=") {
                MatchOp::Ne
            } else if self.eat("=") {
                MatchOp::Eq
            } else {
                return Err(self.error("expected =, !=, =~ or !~"));
            };
            let value = self.string()?;
            let regex = match op {
                MatchOp::Re | MatchOp::NotRe => Some(compile(&format!("^(?:{value})$"))?),
                _ => None,
            };
            matchers.push(Matcher {
                label: Label::parse(&name),
                op,
                value,
                regex,
            });
            if matchers.len() > MAX_TERMS {
                return Err(self.error("too many matchers"));
            }
            if self.eat("}") {
                break;
            }
            self.expect(",")?;
        }
        if matchers.iter().all(|m| m.matches("")) {
            return Err(ApiError::invalid(
                "query",
                "queries require at least one matcher that does not match an empty value (as in Loki)",
            ));
        }
        let mut filters = Vec::new();
        loop {
            let op = if self.eat("|=") {
                FilterOp::Contains
            } else if self.eat("|~") {
                FilterOp::Re
            } else if self.eat("!=") {
                FilterOp::NotContains
            } else if self.eat("!~") {
                FilterOp::NotRe
            } else if self.eat("|") {
                // `| drop __error__[, __error_details__]`: edgesoc's lines have no parse errors.
                if self.ident()? != "drop" {
                    return Err(unsupported(
                        "parsers and label stages (`| json`, `| logfmt`, …) are not supported",
                    ));
                }
                loop {
                    let label = self.ident()?;
                    if !label.starts_with("__error") {
                        return Err(unsupported("`| drop` is supported for __error__ only"));
                    }
                    if !self.eat(",") {
                        break;
                    }
                }
                continue;
            } else {
                break;
            };
            let value = self.string()?;
            let regex = match op {
                FilterOp::Re | FilterOp::NotRe => Some(compile(&value)?),
                _ => None,
            };
            filters.push(LineFilter { op, value, regex });
            if filters.len() > MAX_TERMS {
                return Err(self.error("too many line filters"));
            }
        }
        Ok(Selector { matchers, filters })
    }
}

fn compile(pattern: &str) -> Result<Regex, ApiError> {
    regex_lite::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .nest_limit(64)
        .build()
        .map_err(|e| ApiError::invalid("query", format!("invalid regular expression: {e}")))
}
