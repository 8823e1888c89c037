//! A route's body template (minijinja): compiled at start, rendered per event with `event`, `record`, `type`,
//! `user` and `summary` in scope.
//!
//! For a JSON content type, text put into the template is escaped as the inside of a JSON string (quotes,
//! backslashes, controls), since templates write it between quotes: `"{{ user }}"` stays valid JSON whatever the
//! user name holds. Values that are already JSON (`{{ event.data | tojson }}`) are written as they are.

use minijinja::value::{Serde, Value};
use minijinja::{Environment, UndefinedBehavior};

/// Work allowed to render one event: generous for any real template, and a loop without end stops here.
const FUEL: u64 = 200_000;
/// Largest body a template may produce.
const MAX_OUTPUT: usize = 1024 * 1024;

pub struct Template {
    env: Environment<'static>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Template")
    }
}

/// Why a template does not parse, and where (its own line, 1-based).
#[derive(Debug)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// What a template is given for one event.
pub struct Scope<'a> {
    pub event: &'a serde_json::Value,
    pub record: &'a serde_json::Value,
    pub ty: &'a str,
    pub user: Option<&'a str>,
    pub summary: &'a str,
}

impl Template {
    pub fn compile(route: &str, source: &str, json: bool) -> Result<Template, ParseError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        env.set_fuel(Some(FUEL));
        if json {
            env.set_formatter(|out, _state, value| {
                if value.is_safe() || value.as_str().is_none() {
                    if !value.is_undefined() && !value.is_none() {
                        write!(out, "{value}").map_err(minijinja::Error::from)?;
                    }
                    return Ok(());
                }
                let quoted = serde_json::to_string(value.as_str().unwrap_or_default()).unwrap_or_default();
                out.write_str(&quoted[1..quoted.len() - 1]).map_err(minijinja::Error::from)
            });
        }
        env.add_template_owned(route.to_owned(), source.to_owned())
            .map_err(|e| ParseError { line: e.line().unwrap_or(1), message: one_line(&e) })?;
        Ok(Template { env })
    }

    /// The body for one event, or why it cannot be made.
    pub fn render(&self, scope: &Scope) -> Result<String, String> {
        let (name, _) = self.env.templates().next().ok_or("no template")?;
        let tmpl = self.env.get_template(name).map_err(|e| one_line(&e))?;
        let ctx = minijinja::context! {
            event => Value::from(Serde(scope.event)),
            record => Value::from(Serde(scope.record)),
            type => scope.ty,
            user => scope.user,
            summary => scope.summary,
        };
        let body = tmpl.render(ctx).map_err(|e| one_line(&e))?;
        if body.len() > MAX_OUTPUT {
            return Err(format!("the template produced more than {MAX_OUTPUT} bytes"));
        }
        Ok(body)
    }
}

fn one_line(e: &minijinja::Error) -> String {
    let mut text = e.kind().to_string();
    if let Some(detail) = e.detail() {
        text.push_str(": ");
        text.push_str(detail);
    }
    if let Some(line) = e.line() {
        text.push_str(&format!(" (template line {line})"));
    }
    crate::text::escape(&text.replace('\n', " ")).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(source: &str, json: bool, event: serde_json::Value) -> Result<String, String> {
        let t = Template::compile("t", source, json).map_err(|e| e.message)?;
        t.render(&Scope { event: &event, record: &json!({"seq": 1}), ty: "ty", user: Some("a\"b"), summary: "s" })
    }

    #[test]
    fn json_bodies_stay_json_whatever_the_values_hold() {
        let ev = json!({"data": {"description": "said \"hi\"\n", "n": 3}});
        let body = render(
            r#"{"text": "{{ event.data.description }} ({{ user }})", "n": {{ event.data.n }}}"#,
            true,
            ev.clone(),
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["text"], "said \"hi\"\n (a\"b)");
        assert_eq!(v["n"], 3);
        let body = render(r#"{"data": {{ event.data | tojson }}, "seq": {{ record.seq }}}"#, true, ev).unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["data"]["n"], 3);
        assert_eq!(v["seq"], 1);
    }

    #[test]
    fn failures_are_reported_not_panicked() {
        assert!(render("{{ event.missing.deeper }}", false, json!({})).is_err());
        let e = render(
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            false,
            json!({}),
        )
        .unwrap_err();
        assert!(!e.is_empty());
        let e = Template::compile("t", "a\n{{ x", false).unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(render("{{ type }} {{ summary }}", false, json!({})).unwrap(), "ty s");
    }
}
