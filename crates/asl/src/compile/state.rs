//! Compiles one state object: its fields by type and query language, Retry and Catch.

use super::fields::{jsonata_expression, query_language, Obj};
use super::{BlockScope, Compiler};
use crate::choice::{self, Test};
use crate::definition::{
    Assign, Catcher, Choice, Dynamic, Fail, FailField, Io, JsonPathIo, JsonataIo, Kind, Parallel,
    Pass, QueryLanguage, Retrier, Rule, RuleTest, State, StateId, Task, Transition, Wait,
};
use crate::diagnostic::{Code, Diagnostics};
use crate::intrinsic::{self, Intrinsic};
use crate::path::{is_variable_name, Path};
use crate::template::Template;
use crate::{error_name, limits, timestamp};
use serde_json::Value;

/// Fields a state type accepts: in both query languages, JSONPath only, JSONata only.
pub(super) struct FieldTable {
    pub both: &'static [&'static str],
    pub json_path: &'static [&'static str],
    pub jsonata: &'static [&'static str],
}

const JSONPATH_IO: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
];

fn field_table(type_name: &str) -> Option<FieldTable> {
    let table = match type_name {
        "Pass" => FieldTable {
            both: &["Next", "End", "Assign"],
            json_path: &[
                "InputPath",
                "OutputPath",
                "Parameters",
                "Result",
                "ResultPath",
            ],
            jsonata: &["Output"],
        },
        "Task" => FieldTable {
            both: &[
                "Resource",
                "Next",
                "End",
                "Assign",
                "TimeoutSeconds",
                "HeartbeatSeconds",
                "Retry",
                "Catch",
                "Credentials",
            ],
            json_path: &[
                "InputPath",
                "OutputPath",
                "Parameters",
                "ResultSelector",
                "ResultPath",
                "TimeoutSecondsPath",
                "HeartbeatSecondsPath",
            ],
            jsonata: &["Arguments", "Output"],
        },
        "Choice" => FieldTable {
            both: &["Choices", "Default", "Assign"],
            json_path: &["InputPath", "OutputPath"],
            jsonata: &["Output"],
        },
        "Wait" => FieldTable {
            both: &["Seconds", "Timestamp", "Next", "End", "Assign"],
            json_path: &["SecondsPath", "TimestampPath", "InputPath", "OutputPath"],
            jsonata: &["Output"],
        },
        "Succeed" => FieldTable {
            both: &[],
            json_path: &["InputPath", "OutputPath"],
            jsonata: &["Output"],
        },
        "Fail" => FieldTable {
            both: &["Error", "Cause"],
            json_path: &["ErrorPath", "CausePath"],
            jsonata: &[],
        },
        "Parallel" => FieldTable {
            both: &["Branches", "Next", "End", "Assign", "Retry", "Catch"],
            json_path: JSONPATH_IO,
            jsonata: &["Arguments", "Output"],
        },
        "Map" => FieldTable {
            both: &[
                "ItemProcessor",
                "Iterator",
                "ItemReader",
                "ItemBatcher",
                "ResultWriter",
                "ItemSelector",
                "MaxConcurrency",
                "ToleratedFailurePercentage",
                "ToleratedFailureCount",
                "Label",
                "Next",
                "End",
                "Assign",
                "Retry",
                "Catch",
            ],
            json_path: &[
                "ItemsPath",
                "Parameters",
                "InputPath",
                "OutputPath",
                "ResultSelector",
                "ResultPath",
                "MaxConcurrencyPath",
                "ToleratedFailurePercentagePath",
                "ToleratedFailureCountPath",
            ],
            jsonata: &["Items", "Output"],
        },
        _ => return None,
    };
    Some(table)
}

const TYPES_MESSAGE: &str = "The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]";

impl Compiler {
    pub(super) fn state(
        &mut self,
        scope: &BlockScope<'_>,
        name: &str,
        value: &Value,
        machine_language: QueryLanguage,
    ) -> State {
        let location = format!(
            "{}/States/{}",
            scope.location,
            crate::template::escape_pointer(name)
        );
        let id = scope.ids[name];
        let empty = serde_json::Map::new();
        let map = value.as_object().unwrap_or_else(|| {
            self.diagnostics
                .schema(&location, "A state must be a JSON object");
            &empty
        });
        let obj = Obj::new(map, location);
        let language = query_language(&obj, &mut self.diagnostics, Some(machine_language))
            .unwrap_or(machine_language);
        let type_name = obj.string(&mut self.diagnostics, "Type");
        let table = type_name.and_then(field_table);
        match (type_name, &table) {
            (None, _) if !obj.has("Type") => {
                obj.require(&mut self.diagnostics, &["Type"]);
            }
            (Some(_), None) => self.diagnostics.schema(obj.at("Type"), TYPES_MESSAGE),
            _ => {}
        }
        if let Some(table) = &table {
            let common = ["Type", "Comment", "QueryLanguage"];
            check_fields(&obj, table, &common, language, &mut self.diagnostics);
        }
        let jsonata = language == QueryLanguage::Jsonata;
        let io = self.io(&obj, language);
        let assign = self.assign(&obj, "Assign", language);
        let kind = match type_name.unwrap_or("Pass") {
            "Task" => Kind::Task(self.task(&obj, language)),
            "Choice" => Kind::Choice(self.choice(&obj, scope, jsonata, language)),
            "Wait" => Kind::Wait(self.wait(&obj, language)),
            "Succeed" => Kind::Succeed,
            "Fail" => Kind::Fail(self.fail(&obj, language)),
            "Parallel" => Kind::Parallel(self.parallel(&obj, id, machine_language)),
            "Map" => Kind::Map(Box::new(self.map(&obj, id, language, machine_language))),
            _ => Kind::Pass(Pass {
                result: obj.get("Result").cloned(),
            }),
        };
        let transition = self.transition(&obj, scope, &kind);
        let retry = self.retriers(&obj);
        let catch = self.catchers(&obj, scope, language);
        State {
            name: name.to_string(),
            block: scope.id,
            query_language: language,
            io,
            assign,
            transition,
            retry,
            catch,
            kind,
        }
    }

    fn io(&mut self, obj: &Obj<'_>, language: QueryLanguage) -> Io {
        let diagnostics = &mut self.diagnostics;
        match language {
            QueryLanguage::JsonPath => Io::JsonPath(JsonPathIo {
                input_path: obj.selector(diagnostics, "InputPath"),
                parameters: obj
                    .get("Parameters")
                    .map(|value| compile_template(value, &obj.at("Parameters"), diagnostics)),
                result_selector: obj
                    .get("ResultSelector")
                    .map(|value| compile_template(value, &obj.at("ResultSelector"), diagnostics)),
                result_path: obj.result_path(diagnostics, "ResultPath"),
                output_path: obj.selector(diagnostics, "OutputPath"),
            }),
            QueryLanguage::Jsonata => Io::Jsonata(JsonataIo {
                arguments: obj.jsonata_template(diagnostics, "Arguments"),
                output: obj.jsonata_template(diagnostics, "Output"),
            }),
        }
    }

    fn assign(&mut self, obj: &Obj<'_>, key: &str, language: QueryLanguage) -> Option<Assign> {
        let value = obj.get(key)?;
        let location = obj.at(key);
        let Some(map) = value.as_object() else {
            self.diagnostics
                .schema(&location, format!("The field '{key}' must be an object"));
            return None;
        };
        for name in map.keys() {
            let variable = match language {
                QueryLanguage::JsonPath => name.strip_suffix(".$").unwrap_or(name),
                QueryLanguage::Jsonata => name,
            };
            if !is_variable_name(variable) || variable == "states" {
                self.diagnostics.schema(
                    &location,
                    format!("The variable name '{variable}' is invalid"),
                );
            }
        }
        Some(match language {
            QueryLanguage::JsonPath => {
                Assign::JsonPath(Template::compile(value, &location, &mut self.diagnostics))
            }
            QueryLanguage::Jsonata => {
                Assign::Jsonata(obj.jsonata_template(&mut self.diagnostics, key)?)
            }
        })
    }

    fn transition(&mut self, obj: &Obj<'_>, scope: &BlockScope<'_>, kind: &Kind) -> Transition {
        match kind {
            Kind::Choice(_) => return Transition::Choice,
            Kind::Succeed | Kind::Fail(_) => return Transition::End,
            _ => {}
        }
        let end = obj.bool(&mut self.diagnostics, "End");
        match (obj.get("Next"), end) {
            (Some(_), Some(true)) => {
                obj.at_most_one(&mut self.diagnostics, &["Next", "End"]);
                Transition::End
            }
            (Some(_), _) => self
                .target(obj, scope, "Next")
                .map_or(Transition::End, Transition::Next),
            (None, Some(true)) => Transition::End,
            (None, _) => {
                self.diagnostics
                    .schema(&obj.location, "These fields are required: [Next | End]");
                Transition::End
            }
        }
    }

    /// Resolves a transition target field within the state's own block.
    fn target(&mut self, obj: &Obj<'_>, scope: &BlockScope<'_>, key: &str) -> Option<StateId> {
        let name = obj.string(&mut self.diagnostics, key)?;
        let target = scope.ids.get(name).copied();
        if target.is_none() {
            self.diagnostics.error(
                Code::MissingTransitionTarget,
                obj.at(key),
                format!("Missing 'Next' target: {name}"),
            );
        }
        target
    }

    fn task(&mut self, obj: &Obj<'_>, language: QueryLanguage) -> Task {
        obj.require(&mut self.diagnostics, &["Resource"]);
        let resource = obj
            .string(&mut self.diagnostics, "Resource")
            .unwrap_or_default()
            .to_string();
        if !optimized_resource_known(&resource) {
            self.diagnostics.schema(
                obj.at("Resource"),
                format!("The resource provided {resource} is not recognized. The value is not a valid resource ARN, or the resource is not available in this region."),
            );
        }
        let timeout_seconds = obj.dynamic_integer(
            &mut self.diagnostics,
            "TimeoutSeconds",
            language,
            1,
            limits::SECONDS_MAX,
        );
        let heartbeat_seconds = obj.dynamic_integer(
            &mut self.diagnostics,
            "HeartbeatSeconds",
            language,
            1,
            limits::SECONDS_MAX,
        );
        if let (Some(Dynamic::Literal(timeout)), Some(Dynamic::Literal(heartbeat))) =
            (&timeout_seconds, &heartbeat_seconds)
        {
            if heartbeat >= timeout {
                self.diagnostics.schema(
                    obj.at("HeartbeatSeconds"),
                    "HeartbeatSeconds must be smaller than TimeoutSeconds",
                );
            }
        }
        if let Some(credentials) = obj.get("Credentials") {
            let has_role = credentials
                .as_object()
                .is_some_and(|map| map.contains_key("RoleArn") || map.contains_key("RoleArn.$"));
            if has_role {
                // Tasks run with the server's own credentials: a role to assume would be
                // accepted and ignored, so it is refused.
                super::refuse(
                    &mut self.diagnostics,
                    obj.at("Credentials"),
                    "Credentials",
                    "tasks cannot assume another role",
                );
            } else {
                self.diagnostics.schema(
                    obj.at("Credentials"),
                    "The field 'RoleArn' is required but was missing",
                );
            }
        }
        Task {
            resource,
            timeout_seconds,
            heartbeat_seconds,
        }
    }

    fn choice(
        &mut self,
        obj: &Obj<'_>,
        scope: &BlockScope<'_>,
        jsonata: bool,
        language: QueryLanguage,
    ) -> Choice {
        obj.require(&mut self.diagnostics, &["Choices"]);
        let mut rules = Vec::new();
        match obj.get("Choices") {
            Some(Value::Array(items)) if !items.is_empty() => {
                for (index, item) in items.iter().enumerate() {
                    let location = format!("{}/Choices[{index}]", obj.location);
                    let Some(rule) =
                        choice::parse_rule(item, &location, jsonata, &mut self.diagnostics)
                    else {
                        continue;
                    };
                    let Some(next) = scope.ids.get(rule.next.as_str()).copied() else {
                        let message = format!("Missing 'Next' target: {}", rule.next);
                        self.diagnostics.error(
                            Code::MissingTransitionTarget,
                            format!("{location}/Next"),
                            message,
                        );
                        continue;
                    };
                    rules.push(self.rule(rule, next, &location, language));
                }
            }
            Some(_) => self.diagnostics.schema(
                obj.at("Choices"),
                "The field 'Choices' must be a non-empty array",
            ),
            None => {}
        }
        let default = obj
            .get("Default")
            .and_then(|_| self.target(obj, scope, "Default"));
        Choice { rules, default }
    }

    fn rule(
        &mut self,
        rule: choice::ChoiceRule,
        next: StateId,
        location: &str,
        language: QueryLanguage,
    ) -> Rule {
        let test = match rule.test {
            Test::Expr(expr) => RuleTest::Expr(expr),
            Test::Condition(condition) => {
                let location = format!("{location}/Condition");
                match super::fields::jsonata_template(&condition, &location, &mut self.diagnostics)
                {
                    Some(template) => RuleTest::Condition(template),
                    None => RuleTest::Condition(crate::definition::JsonataTemplate::Constant(
                        serde_json::Value::Bool(false),
                    )),
                }
            }
        };
        let mut holder = serde_json::Map::new();
        if let Some(assign) = rule.assign {
            holder.insert("Assign".to_string(), assign);
        }
        if let Some(output) = rule.output {
            holder.insert("Output".to_string(), output);
        }
        let obj = Obj::new(&holder, location.to_string());
        let assign = self.assign(&obj, "Assign", language);
        let output = obj.jsonata_template(&mut self.diagnostics, "Output");
        Rule {
            test,
            next,
            assign,
            output,
        }
    }

    fn wait(&mut self, obj: &Obj<'_>, language: QueryLanguage) -> Wait {
        let keys = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"];
        let present = keys.iter().filter(|key| obj.has(key)).count();
        if present != 1 {
            self.diagnostics.schema(&obj.location, "Exactly one of the following fields is required: [Seconds, Timestamp, SecondsPath, TimestampPath]");
        }
        if obj.has("Timestamp") || obj.has("TimestampPath") {
            if let Some(expr) = obj.jsonata_string(&mut self.diagnostics, "Timestamp", language) {
                return Wait::Timestamp(Dynamic::Jsonata(expr));
            }
            if let Some(path) = obj
                .get("TimestampPath")
                .and_then(|_| obj.path(&mut self.diagnostics, "TimestampPath"))
            {
                return Wait::Timestamp(Dynamic::Path(path));
            }
            let text = obj
                .string(&mut self.diagnostics, "Timestamp")
                .unwrap_or_default();
            return match timestamp::parse_rfc3339(text) {
                Some(millis) => Wait::Timestamp(Dynamic::Literal(millis)),
                None => {
                    self.diagnostics.schema(
                        obj.at("Timestamp"),
                        "String does not match RFC3339 timestamp",
                    );
                    Wait::Timestamp(Dynamic::Literal(0))
                }
            };
        }
        if let Some(path) = obj
            .get("SecondsPath")
            .and_then(|_| obj.path(&mut self.diagnostics, "SecondsPath"))
        {
            return Wait::Seconds(Dynamic::Path(path));
        }
        let seconds = obj.dynamic_integer(
            &mut self.diagnostics,
            "Seconds",
            language,
            0,
            limits::SECONDS_MAX,
        );
        Wait::Seconds(seconds.unwrap_or(Dynamic::Literal(0)))
    }

    fn fail(&mut self, obj: &Obj<'_>, language: QueryLanguage) -> Fail {
        Fail {
            error: self.fail_field(obj, "Error", language),
            cause: self.fail_field(obj, "Cause", language),
        }
    }

    fn fail_field(
        &mut self,
        obj: &Obj<'_>,
        key: &str,
        language: QueryLanguage,
    ) -> Option<FailField> {
        let path_key = format!("{key}Path");
        obj.at_most_one(&mut self.diagnostics, &[key, &path_key]);
        if let Some(text) = obj.string(&mut self.diagnostics, key) {
            return match jsonata_expression(text) {
                Some(_) if language == QueryLanguage::Jsonata => obj
                    .jsonata_string(&mut self.diagnostics, key, language)
                    .map(FailField::Jsonata),
                _ => Some(FailField::Literal(text.to_string())),
            };
        }
        let text = obj.string(&mut self.diagnostics, &path_key)?;
        let field = if intrinsic::is_intrinsic(text) {
            Intrinsic::parse(text).ok().map(FailField::Intrinsic)
        } else {
            Path::parse(text).ok().map(FailField::Path)
        };
        if field.is_none() {
            let message = format!("The value for the field '{path_key}' must be a valid JSONPath or a valid intrinsic function call");
            self.diagnostics.schema(obj.at(&path_key), message);
        }
        field
    }

    fn parallel(
        &mut self,
        obj: &Obj<'_>,
        id: StateId,
        machine_language: QueryLanguage,
    ) -> Parallel {
        obj.require(&mut self.diagnostics, &["Branches"]);
        let mut branches = Vec::new();
        match obj.get("Branches") {
            Some(Value::Array(items)) if !items.is_empty() => {
                for (index, item) in items.iter().enumerate() {
                    let location = format!("{}/Branches[{index}]", obj.location);
                    let Some(map) = item.as_object() else {
                        self.diagnostics
                            .schema(&location, "A branch must be a JSON object");
                        continue;
                    };
                    Obj::new(map, location.clone())
                        .allow_only(&mut self.diagnostics, &["StartAt", "States", "Comment"]);
                    branches.push(self.block(
                        map,
                        location,
                        Some(id),
                        machine_language,
                        machine_language,
                    ));
                }
            }
            Some(_) => self.diagnostics.schema(
                obj.at("Branches"),
                "The field 'Branches' must be a non-empty array",
            ),
            None => {}
        }
        Parallel { branches }
    }

    fn retriers(&mut self, obj: &Obj<'_>) -> Vec<Retrier> {
        let items = self.entries(obj, "Retry");
        let count = items.len();
        let mut retriers = Vec::with_capacity(count);
        for (index, item) in items.into_iter().enumerate() {
            let entry = Obj::new(item, format!("{}/Retry[{index}]", obj.location));
            entry.allow_only(
                &mut self.diagnostics,
                &[
                    "ErrorEquals",
                    "IntervalSeconds",
                    "MaxAttempts",
                    "BackoffRate",
                    "MaxDelaySeconds",
                    "JitterStrategy",
                    "Comment",
                ],
            );
            let error_equals = self.error_equals(&entry, index + 1 == count);
            let diagnostics = &mut self.diagnostics;
            let jitter = entry.string(diagnostics, "JitterStrategy");
            if !matches!(jitter, None | Some("FULL") | Some("NONE")) {
                diagnostics.schema(
                    entry.at("JitterStrategy"),
                    "The field 'JitterStrategy' should have one of these values: [FULL, NONE]",
                );
            }
            retriers.push(Retrier {
                error_equals,
                interval_seconds: entry
                    .integer(diagnostics, "IntervalSeconds", 1, limits::SECONDS_MAX)
                    .unwrap_or(1),
                max_attempts: entry
                    .integer(diagnostics, "MaxAttempts", 0, limits::SECONDS_MAX)
                    .unwrap_or(3),
                backoff_rate: entry
                    .number(diagnostics, "BackoffRate", 1.0, f64::MAX)
                    .unwrap_or(2.0),
                max_delay_seconds: entry.integer(
                    diagnostics,
                    "MaxDelaySeconds",
                    1,
                    limits::MAX_DELAY_SECONDS_MAX,
                ),
                jitter_full: jitter == Some("FULL"),
            });
        }
        retriers
    }

    fn catchers(
        &mut self,
        obj: &Obj<'_>,
        scope: &BlockScope<'_>,
        language: QueryLanguage,
    ) -> Vec<Catcher> {
        let items = self.entries(obj, "Catch");
        let count = items.len();
        let mut catchers = Vec::with_capacity(count);
        for (index, item) in items.into_iter().enumerate() {
            let entry = Obj::new(item, format!("{}/Catch[{index}]", obj.location));
            let language_fields: &[&str] = match language {
                QueryLanguage::JsonPath => {
                    &["ErrorEquals", "Next", "ResultPath", "Assign", "Comment"]
                }
                QueryLanguage::Jsonata => &["ErrorEquals", "Next", "Output", "Assign", "Comment"],
            };
            entry.allow_only(&mut self.diagnostics, language_fields);
            entry.require(&mut self.diagnostics, &["ErrorEquals", "Next"]);
            let error_equals = self.error_equals(&entry, index + 1 == count);
            let next = entry
                .get("Next")
                .and_then(|_| self.target(&entry, scope, "Next"));
            let result_path = entry.result_path(&mut self.diagnostics, "ResultPath");
            let output = entry.jsonata_template(&mut self.diagnostics, "Output");
            let assign = self.assign(&entry, "Assign", language);
            if let Some(next) = next {
                catchers.push(Catcher {
                    error_equals,
                    next,
                    result_path,
                    output,
                    assign,
                });
            }
        }
        catchers
    }

    /// The objects of a `Retry` or `Catch` array.
    fn entries<'a>(&mut self, obj: &Obj<'a>, key: &str) -> Vec<&'a serde_json::Map<String, Value>> {
        match obj.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(index, item)| {
                    let map = item.as_object();
                    if map.is_none() {
                        self.diagnostics.schema(
                            format!("{}/{key}[{index}]", obj.location),
                            "Each entry must be a JSON object",
                        );
                    }
                    map
                })
                .collect(),
            Some(_) => {
                self.diagnostics
                    .schema(obj.at(key), format!("The field '{key}' must be an array"));
                Vec::new()
            }
        }
    }

    fn error_equals(&mut self, entry: &Obj<'_>, is_last: bool) -> Vec<String> {
        if !entry.require(&mut self.diagnostics, &["ErrorEquals"]) {
            return Vec::new();
        }
        let names: Option<Vec<String>> = match entry.get("ErrorEquals") {
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|item| item.as_str().map(str::to_string))
                .collect(),
            _ => None,
        };
        let Some(names) = names else {
            self.diagnostics.schema(
                entry.at("ErrorEquals"),
                "The field 'ErrorEquals' must be a non-empty array of strings",
            );
            return Vec::new();
        };
        if names.iter().any(|name| name == error_name::ALL) && (names.len() > 1 || !is_last) {
            self.diagnostics.schema(
                entry.at("ErrorEquals"),
                "States.ALL must appear alone in the last ErrorEquals",
            );
        }
        names
    }
}

/// Reports fields `table` does not list for `language`, and those only the other query
/// language has, as AWS words them; `common` fields are always allowed.
pub(super) fn check_fields(
    obj: &Obj<'_>,
    table: &FieldTable,
    common: &[&str],
    language: QueryLanguage,
    diagnostics: &mut Diagnostics,
) {
    for key in obj.map.keys() {
        let key = key.as_str();
        if common.contains(&key) || table.both.contains(&key) {
            continue;
        }
        let (own, other, own_name, other_name) = match language {
            QueryLanguage::JsonPath => (table.json_path, table.jsonata, "JSONPath", "JSONata"),
            QueryLanguage::Jsonata => (table.jsonata, table.json_path, "JSONata", "JSONPath"),
        };
        if own.contains(&key) {
            continue;
        }
        if other.contains(&key) {
            let message = format!("The QueryLanguage is set to '{own_name}', but field '{key}' is only supported for the '{other_name}' QueryLanguage");
            diagnostics.schema(&obj.location, message);
        } else {
            diagnostics.schema(&obj.location, format!("Field '{key}' is not supported"));
        }
    }
}

pub(super) fn compile_template(
    value: &Value,
    location: &str,
    diagnostics: &mut Diagnostics,
) -> Template {
    Template::compile(value, location, diagnostics)
}

pub(super) fn map_dynamic<T, U>(dynamic: Dynamic<T>, convert: impl FnOnce(T) -> U) -> Dynamic<U> {
    match dynamic {
        Dynamic::Literal(value) => Dynamic::Literal(convert(value)),
        Dynamic::Path(path) => Dynamic::Path(path),
        Dynamic::Jsonata(expr) => Dynamic::Jsonata(expr),
    }
}

/// The optimized integrations whose every action is known here, with their actions: a
/// resource naming another action of these services (`arn:aws:states:::dynamodb:query`) is
/// refused as AWS refuses it. Other services' resources are not checked.
const OPTIMIZED_ACTIONS: &[(&str, &[&str])] = &[
    (
        "dynamodb",
        &["getItem", "putItem", "updateItem", "deleteItem"],
    ),
    ("sqs", &["sendMessage"]),
    ("sns", &["publish"]),
    ("events", &["putEvents"]),
    ("lambda", &["invoke"]),
    ("http", &["invoke"]),
    ("apigateway", &["invoke"]),
    ("states", &["startExecution"]),
];

/// Whether an `arn:aws:states:::SERVICE:ACTION[.pattern]` resource of a service in
/// [`OPTIMIZED_ACTIONS`] names one of its actions (other resources pass).
fn optimized_resource_known(resource: &str) -> bool {
    let Some(rest) = resource.strip_prefix("arn:aws:states:::") else {
        return true;
    };
    let Some((service, action)) = rest.split_once(':') else {
        return true;
    };
    let action = action.split('.').next().unwrap_or(action);
    OPTIMIZED_ACTIONS
        .iter()
        .find(|(name, _)| *name == service)
        .is_none_or(|(_, actions)| actions.contains(&action))
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::invalid_definition_message;

    fn task(resource: &str) -> Result<(), String> {
        let definition = serde_json::json!({
            "StartAt": "Query",
            "States": {"Query": {"Type": "Task", "Resource": resource, "End": true}}
        });
        crate::compile::compile_value(&definition)
            .map(|_| ())
            .map_err(|diagnostics| invalid_definition_message(&diagnostics))
    }

    #[test]
    fn credentials_are_refused_rather_than_ignored() {
        let definition = |credentials: serde_json::Value| {
            serde_json::json!({"StartAt": "T", "States": {"T": {"Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke", "Credentials": credentials,
                "End": true}}})
        };
        let message = |credentials| {
            crate::compile::compile_value(&definition(credentials))
                .map(|_| ())
                .map_err(|diagnostics| invalid_definition_message(&diagnostics))
        };
        assert_eq!(
            message(serde_json::json!({"RoleArn": "arn:aws:iam::111111111111:role/r"})),
            Err("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: steppe does not support the field 'Credentials' yet: tasks cannot assume another role at /States/T/Credentials'".to_string())
        );
        // AWS's own diagnostic comes alone when the field is invalid anyway (localstack
        // api/credentials INVALID_CREDENTIALS_FIELD).
        assert_eq!(
            message(serde_json::json!({})),
            Err("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The field 'RoleArn' is required but was missing at /States/T/Credentials'".to_string())
        );
    }

    #[test]
    fn unknown_actions_of_fully_known_optimized_integrations_are_refused() {
        // AWS's recorded refusal (CreateStateMachine, 2025).
        assert_eq!(
            task("arn:aws:states:::dynamodb:query"),
            Err("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The resource provided arn:aws:states:::dynamodb:query is not recognized. The value is not a valid resource ARN, or the resource is not available in this region. at /States/Query/Resource'".to_string())
        );
        assert!(task("arn:aws:states:::sqs:receiveMessage").is_err());
        for known in [
            "arn:aws:states:::dynamodb:getItem",
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "arn:aws:states:::states:startExecution.sync:2",
            "arn:aws:states:::aws-sdk:dynamodb:query",
            "arn:aws:states:::ecs:runTask.sync",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
        ] {
            assert_eq!(task(known), Ok(()), "{known}");
        }
    }
}
