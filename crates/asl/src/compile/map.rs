//! Compiles a `Map` state: its item processor and mode, and the distributed-mode fields
//! `ItemReader`, `ItemBatcher`, `ResultWriter` and `Label`.
//!
//! Every field is checked as AWS checks it. What steppe cannot carry out yet (Parquet and
//! manifest readers, `LOAD_AND_FLATTEN`, writing results) is refused here, once the field is
//! otherwise valid, so a definition never runs with a field silently ignored.

use super::fields::Obj;
use super::state::{check_fields, compile_template, map_dynamic, FieldTable};
use super::Compiler;
use crate::definition::{
    BatchInput, Definition, Dynamic, ItemBatcher, ItemReader, JsonataTemplate, Map, QueryLanguage,
    ResultExport, ResultTransformation, ResultWriter, StateId,
};
use crate::diagnostic::Diagnostics;
use crate::limits;
use crate::template::Template;
use serde_json::Value;

const ITEM_READER: FieldTable = FieldTable {
    both: &["Resource", "ReaderConfig"],
    json_path: &["Parameters"],
    jsonata: &["Arguments"],
};

const READER_CONFIG: FieldTable = FieldTable {
    both: &[
        "InputType",
        "Transformation",
        "ManifestType",
        "CSVDelimiter",
        "CSVHeaderLocation",
        "CSVHeaders",
        "ItemsPointer",
        "MaxItems",
    ],
    json_path: &["MaxItemsPath"],
    jsonata: &[],
};

const ITEM_BATCHER: FieldTable = FieldTable {
    both: &["MaxItemsPerBatch", "MaxInputBytesPerBatch", "BatchInput"],
    json_path: &["MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath"],
    jsonata: &[],
};

const RESULT_WRITER: FieldTable = FieldTable {
    both: &["Resource", "WriterConfig"],
    json_path: &["Parameters"],
    jsonata: &["Arguments"],
};

/// Characters AWS refuses in a `Label`, besides whitespace and control characters.
const LABEL_FORBIDDEN: &str = "<>{}[]?*\"#%\\^|~`$&,;:/";

impl Compiler {
    pub(super) fn map(
        &mut self,
        obj: &Obj<'_>,
        id: StateId,
        language: QueryLanguage,
        machine_language: QueryLanguage,
    ) -> Map {
        obj.at_most_one(&mut self.diagnostics, &["ItemProcessor", "Iterator"]);
        obj.at_most_one(&mut self.diagnostics, &["ItemSelector", "Parameters"]);
        let processor_key = if obj.has("Iterator") {
            "Iterator"
        } else {
            "ItemProcessor"
        };
        let mut distributed = false;
        let mut express_children = false;
        let processor = match obj.get(processor_key) {
            Some(Value::Object(map)) => {
                let location = obj.at(processor_key);
                let processor_obj = Obj::new(map, location.clone());
                processor_obj.allow_only(
                    &mut self.diagnostics,
                    &["StartAt", "States", "Comment", "ProcessorConfig"],
                );
                distributed = self.processor_config(&processor_obj);
                express_children = distributed
                    && map
                        .get("ProcessorConfig")
                        .and_then(|config| config.get("ExecutionType"))
                        .and_then(Value::as_str)
                        == Some("EXPRESS");
                Some(self.block(map, location, Some(id), machine_language, machine_language))
            }
            Some(_) => {
                self.diagnostics.schema(
                    obj.at(processor_key),
                    format!("The field '{processor_key}' must be an object"),
                );
                None
            }
            None => {
                self.diagnostics
                    .schema(&obj.location, "These fields are required: [ItemProcessor]");
                None
            }
        };
        let item_selector_key = if obj.has("Parameters") {
            "Parameters"
        } else {
            "ItemSelector"
        };
        let diagnostics = &mut self.diagnostics;
        let (item_selector, item_selector_jsonata) = match language {
            QueryLanguage::JsonPath => (
                obj.get(item_selector_key)
                    .map(|value| compile_template(value, &obj.at(item_selector_key), diagnostics)),
                None,
            ),
            QueryLanguage::Jsonata => (None, obj.jsonata_template(diagnostics, "ItemSelector")),
        };
        let max_concurrency = obj.dynamic_integer(
            diagnostics,
            "MaxConcurrency",
            language,
            0,
            limits::SECONDS_MAX,
        );
        let tolerated_failure_count = obj
            .dynamic_integer(
                diagnostics,
                "ToleratedFailureCount",
                language,
                0,
                u64::MAX >> 12,
            )
            .map(|dynamic| map_dynamic(dynamic, |n| n as i64));
        let tolerated_failure_percentage = self.percentage(obj, language);
        for key in ["ItemReader", "ItemBatcher", "ResultWriter", "Label"] {
            if obj.has(key) && !distributed {
                self.diagnostics.schema(
                    obj.at(key),
                    format!("The field '{key}' is only supported in a Map whose ProcessorConfig Mode is DISTRIBUTED"),
                );
            }
        }
        let item_reader = self.item_reader(obj, language);
        let item_batcher = self.item_batcher(obj, language);
        let result_writer = self.result_writer(obj, language);
        let label = self.label(obj);
        let diagnostics = &mut self.diagnostics;
        Map {
            processor: processor.unwrap_or(Definition::ROOT),
            items_path: obj.selector(diagnostics, "ItemsPath"),
            items: obj.jsonata_template(diagnostics, "Items"),
            item_selector,
            item_selector_jsonata,
            max_concurrency: max_concurrency.unwrap_or(Dynamic::Literal(0)),
            tolerated_failure_percentage,
            tolerated_failure_count,
            distributed,
            express_children,
            label,
            item_batcher,
            item_reader,
            result_writer,
        }
    }

    fn percentage(&mut self, obj: &Obj<'_>, language: QueryLanguage) -> Option<Dynamic<f64>> {
        let key = "ToleratedFailurePercentage";
        obj.at_most_one(
            &mut self.diagnostics,
            &[key, "ToleratedFailurePercentagePath"],
        );
        if let Some(expr) = obj.jsonata_string(&mut self.diagnostics, key, language) {
            return Some(Dynamic::Jsonata(expr));
        }
        if obj.has(key) {
            return obj
                .number(&mut self.diagnostics, key, 0.0, 100.0)
                .map(Dynamic::Literal);
        }
        obj.reference_path(&mut self.diagnostics, "ToleratedFailurePercentagePath")
            .map(Dynamic::Path)
    }

    /// Reads `ProcessorConfig`; returns whether the Map is distributed.
    fn processor_config(&mut self, processor: &Obj<'_>) -> bool {
        let Some(config) = processor.get("ProcessorConfig") else {
            return false;
        };
        let Some(map) = config.as_object() else {
            self.diagnostics.schema(
                processor.at("ProcessorConfig"),
                "The field 'ProcessorConfig' must be an object",
            );
            return false;
        };
        let config = Obj::new(map, processor.at("ProcessorConfig"));
        config.allow_only(&mut self.diagnostics, &["Mode", "ExecutionType"]);
        let execution_types = ["STANDARD", "EXPRESS"];
        one_of(
            &config,
            &mut self.diagnostics,
            "ExecutionType",
            &execution_types,
        );
        let distributed = one_of(
            &config,
            &mut self.diagnostics,
            "Mode",
            &["INLINE", "DISTRIBUTED"],
        ) == Some("DISTRIBUTED");
        // A distributed Map's children are Standard or Express executions, and which is not
        // implied (AWS: "You must provide this field if you specified DISTRIBUTED").
        if distributed && !config.has("ExecutionType") {
            config.require(&mut self.diagnostics, &["ExecutionType"]);
        }
        distributed
    }

    /// Checks `ItemReader`; refuses what steppe does not read yet (Parquet, manifests,
    /// `LOAD_AND_FLATTEN`).
    fn item_reader(&mut self, obj: &Obj<'_>, language: QueryLanguage) -> Option<ItemReader> {
        let reader = self.nested(obj, "ItemReader", &ITEM_READER, language)?;
        let before = self.diagnostics.error_count();
        let diagnostics = &mut self.diagnostics;
        reader.require(diagnostics, &["Resource"]);
        let resource = reader.string(diagnostics, "Resource");
        let resources = ["s3:getObject", "s3:listObjectsV2"];
        let action = resource.and_then(s3_action);
        if resource.is_some() && !action.is_some_and(|action| resources.contains(&action)) {
            diagnostics.schema(
                reader.at("Resource"),
                "The field 'Resource' should have one of these values: [arn:aws:states:::s3:getObject, arn:aws:states:::s3:listObjectsV2]",
            );
        }
        let (parameters, arguments) = self.s3_arguments(&reader, language);
        let config = match reader.get("ReaderConfig") {
            Some(Value::Object(map)) => Some(Obj::new(map, reader.at("ReaderConfig"))),
            Some(_) => {
                self.diagnostics.schema(
                    reader.at("ReaderConfig"),
                    "The field 'ReaderConfig' must be an object",
                );
                None
            }
            None => None,
        };
        let max_items = match &config {
            Some(config) => self.reader_config(config, action, language),
            None => {
                if action == Some("s3:getObject") {
                    // getObject reads one object, whose format the reader must be told.
                    reader.require(&mut self.diagnostics, &["ReaderConfig"]);
                }
                None
            }
        };
        if self.diagnostics.error_count() != before {
            return None;
        }
        if let Some(config) = &config {
            self.refuse_unread(config, obj)?;
        }
        let mut reader_config = reader.get("ReaderConfig").cloned().unwrap_or(Value::Null);
        if let Value::Object(fields) = &mut reader_config {
            fields.remove("MaxItems");
            fields.remove("MaxItemsPath");
        }
        Some(ItemReader {
            resource: resource?.to_string(),
            parameters,
            arguments,
            reader_config,
            max_items,
        })
    }

    /// Refuses, by name, the reader configurations steppe does not read yet.
    fn refuse_unread(&mut self, config: &Obj<'_>, obj: &Obj<'_>) -> Option<()> {
        let text = |key: &str| config.get(key).and_then(Value::as_str);
        let inventory =
            text("InputType") == Some("MANIFEST") || text("ManifestType") == Some("S3_INVENTORY");
        let csv_fields = ["CSVDelimiter", "CSVHeaderLocation", "CSVHeaders"];
        let why = if text("InputType") == Some("PARQUET") {
            "it does not read Parquet objects yet"
        } else if text("Transformation") == Some("LOAD_AND_FLATTEN") {
            "it does not load the listed objects (LOAD_AND_FLATTEN) yet"
        } else if inventory && csv_fields.iter().any(|key| config.has(key)) {
            "it reads an S3 inventory's columns from its manifest's fileSchema, not from CSVDelimiter, CSVHeaderLocation or CSVHeaders"
        } else if text("ManifestType") == Some("ATHENA_DATA") {
            "it does not read Athena manifests (ManifestType ATHENA_DATA) yet"
        } else {
            return Some(());
        };
        refuse(
            &mut self.diagnostics,
            obj.at("ItemReader"),
            "ItemReader",
            why,
        );
        None
    }

    fn reader_config(
        &mut self,
        config: &Obj<'_>,
        action: Option<&str>,
        language: QueryLanguage,
    ) -> Option<Dynamic<u64>> {
        check_fields(config, &READER_CONFIG, &[], language, &mut self.diagnostics);
        let diagnostics = &mut self.diagnostics;
        let input_type = one_of(
            config,
            diagnostics,
            "InputType",
            &["CSV", "JSON", "JSONL", "PARQUET", "MANIFEST"],
        );
        let transformation = one_of(
            config,
            diagnostics,
            "Transformation",
            &["NONE", "LOAD_AND_FLATTEN"],
        );
        let manifest = one_of(
            config,
            diagnostics,
            "ManifestType",
            &["ATHENA_DATA", "S3_INVENTORY"],
        );
        one_of(
            config,
            diagnostics,
            "CSVDelimiter",
            &["COMMA", "PIPE", "SEMICOLON", "SPACE", "TAB"],
        );
        let header = one_of(
            config,
            diagnostics,
            "CSVHeaderLocation",
            &["FIRST_ROW", "GIVEN"],
        );
        if action == Some("s3:getObject") && !config.has("InputType") && manifest.is_none() {
            config.require(diagnostics, &["InputType"]);
        }
        if transformation == Some("LOAD_AND_FLATTEN") && !config.has("InputType") {
            config.require(diagnostics, &["InputType"]);
        }
        if manifest == Some("S3_INVENTORY") && config.has("InputType") {
            diagnostics.schema(
                config.at("InputType"),
                "The field 'InputType' must not be given when the field 'ManifestType' is S3_INVENTORY",
            );
        }
        let text_input = matches!(input_type, Some("CSV" | "MANIFEST"));
        for key in ["CSVDelimiter", "CSVHeaderLocation"] {
            if config.has(key) && input_type.is_some() && !text_input {
                diagnostics.schema(
                    config.at(key),
                    format!("The field '{key}' is only supported when the field 'InputType' is CSV or MANIFEST"),
                );
            }
        }
        match config.get("CSVHeaders") {
            Some(Value::Array(headers))
                if headers.iter().all(Value::is_string) && header != Some("GIVEN") =>
            {
                diagnostics.schema(
                    config.at("CSVHeaders"),
                    "The field 'CSVHeaders' is only supported when the field 'CSVHeaderLocation' is GIVEN",
                );
            }
            Some(Value::Array(headers)) if headers.iter().all(Value::is_string) => {}
            Some(_) => diagnostics.schema(
                config.at("CSVHeaders"),
                "The field 'CSVHeaders' must be an array of strings",
            ),
            None if header == Some("GIVEN") => {
                config.require(diagnostics, &["CSVHeaders"]);
            }
            None => {}
        }
        if let Some(pointer) = config.string(diagnostics, "ItemsPointer") {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                diagnostics.schema(
                    config.at("ItemsPointer"),
                    "The field 'ItemsPointer' must be a JSON Pointer",
                );
            }
            if input_type.is_some() && input_type != Some("JSON") {
                diagnostics.schema(
                    config.at("ItemsPointer"),
                    "The field 'ItemsPointer' is only supported when the field 'InputType' is JSON",
                );
            }
        }
        config.dynamic_integer(
            diagnostics,
            "MaxItems",
            language,
            0,
            limits::READER_MAX_ITEMS_MAX,
        )
    }

    /// Checks `ItemBatcher`, which steppe carries out.
    fn item_batcher(&mut self, obj: &Obj<'_>, language: QueryLanguage) -> Option<ItemBatcher> {
        let batcher = self.nested(obj, "ItemBatcher", &ITEM_BATCHER, language)?;
        let diagnostics = &mut self.diagnostics;
        let sizes = [
            "MaxItemsPerBatch",
            "MaxItemsPerBatchPath",
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
        ];
        if !sizes.iter().any(|key| batcher.has(key)) {
            diagnostics.schema(
                &batcher.location,
                format!(
                    "At least one of the following fields is required: [{}]",
                    sizes.join(", ")
                ),
            );
        }
        let max_items_per_batch =
            batcher.dynamic_integer(diagnostics, "MaxItemsPerBatch", language, 1, u64::MAX >> 12);
        let max_input_bytes_per_batch = batcher.dynamic_integer(
            diagnostics,
            "MaxInputBytesPerBatch",
            language,
            1,
            limits::BATCH_BYTES_MAX,
        );
        let batch_input = batcher.get("BatchInput").and_then(|value| match language {
            QueryLanguage::JsonPath => Some(BatchInput::JsonPath(compile_template(
                value,
                &batcher.at("BatchInput"),
                diagnostics,
            ))),
            QueryLanguage::Jsonata => batcher
                .jsonata_template(diagnostics, "BatchInput")
                .map(BatchInput::Jsonata),
        });
        Some(ItemBatcher {
            max_items_per_batch,
            max_input_bytes_per_batch,
            batch_input,
        })
    }

    /// Checks `ResultWriter`: `Transformation` NONE (the default of an export without
    /// `WriterConfig`), COMPACT or FLATTEN shapes the output, with `OutputType` JSON alone or
    /// JSON or JSONL when exported to Amazon S3; JSONL without an export is refused by name, as
    /// steppe does not carry it out yet.
    fn result_writer(&mut self, obj: &Obj<'_>, language: QueryLanguage) -> Option<ResultWriter> {
        let writer = self.nested(obj, "ResultWriter", &RESULT_WRITER, language)?;
        let before = self.diagnostics.error_count();
        let arguments = match language {
            QueryLanguage::JsonPath => "Parameters",
            QueryLanguage::Jsonata => "Arguments",
        };
        let diagnostics = &mut self.diagnostics;
        if writer.has("Resource") || writer.has(arguments) {
            writer.require(diagnostics, &["Resource", arguments]);
        } else {
            writer.require(diagnostics, &["WriterConfig"]);
        }
        if let Some(resource) = writer.string(diagnostics, "Resource") {
            if s3_action(resource) != Some("s3:putObject") {
                diagnostics.schema(
                    writer.at("Resource"),
                    "The field 'Resource' should have one of these values: [arn:aws:states:::s3:putObject]",
                );
            }
        }
        let (parameters, arguments) = self.s3_arguments(&writer, language);
        match writer.get("WriterConfig") {
            Some(Value::Object(map)) => {
                let config = Obj::new(map, writer.at("WriterConfig"));
                let diagnostics = &mut self.diagnostics;
                config.allow_only(diagnostics, &["OutputType", "Transformation"]);
                config.require(diagnostics, &["OutputType"]);
                one_of(&config, diagnostics, "OutputType", &["JSON", "JSONL"]);
                one_of(
                    &config,
                    diagnostics,
                    "Transformation",
                    &["NONE", "COMPACT", "FLATTEN"],
                );
            }
            Some(_) => self.diagnostics.schema(
                writer.at("WriterConfig"),
                "The field 'WriterConfig' must be an object",
            ),
            None => {}
        }
        if self.diagnostics.error_count() != before {
            return None;
        }
        let config = writer.get("WriterConfig");
        let field = |key: &str| {
            config
                .and_then(|config| config.get(key))
                .and_then(Value::as_str)
        };
        let export = writer.has("Resource").then(|| ResultExport {
            parameters,
            arguments,
            jsonl: field("OutputType") == Some("JSONL"),
        });
        let why = match (field("Transformation"), &export, field("OutputType")) {
            (None, None, _) => "a WriterConfig without a Transformation is not implemented",
            (_, None, Some("JSONL")) => "its OutputType JSONL without an export is not implemented",
            (transformation, export, _) => {
                // An export without a Transformation writes NONE, the ResultWriter page says.
                let transformation = match transformation {
                    Some("FLATTEN") => ResultTransformation::Flatten,
                    Some("COMPACT") => ResultTransformation::Compact,
                    _ => ResultTransformation::None,
                };
                return Some(ResultWriter {
                    transformation,
                    export: export.clone(),
                });
            }
        };
        refuse(
            &mut self.diagnostics,
            obj.at("ResultWriter"),
            "ResultWriter",
            why,
        );
        None
    }

    /// `Parameters` (JSONPath) or `Arguments` (JSONata) of an S3 reader or writer.
    fn s3_arguments(
        &mut self,
        obj: &Obj<'_>,
        language: QueryLanguage,
    ) -> (Option<Template>, Option<JsonataTemplate>) {
        let diagnostics = &mut self.diagnostics;
        match language {
            QueryLanguage::JsonPath => match obj.get("Parameters") {
                Some(value) if value.is_object() => (
                    Some(compile_template(value, &obj.at("Parameters"), diagnostics)),
                    None,
                ),
                Some(_) => {
                    diagnostics.schema(
                        obj.at("Parameters"),
                        "The field 'Parameters' must be an object",
                    );
                    (None, None)
                }
                None => (None, None),
            },
            QueryLanguage::Jsonata => (None, obj.jsonata_template(diagnostics, "Arguments")),
        }
    }

    /// `Label`: a distributed Map's map run is named with it.
    fn label(&mut self, obj: &Obj<'_>) -> Option<String> {
        let label = obj.string(&mut self.diagnostics, "Label")?;
        let bad = label
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || LABEL_FORBIDDEN.contains(c));
        if bad {
            self.diagnostics.schema(
                obj.at("Label"),
                format!("The field 'Label' must not contain whitespace, control characters or any of {LABEL_FORBIDDEN}"),
            );
        }
        Some(label.to_string())
    }

    /// The object at `obj[key]`, with its fields checked against `table`.
    fn nested<'a>(
        &mut self,
        obj: &Obj<'a>,
        key: &str,
        table: &FieldTable,
        language: QueryLanguage,
    ) -> Option<Obj<'a>> {
        match obj.get(key)? {
            Value::Object(map) => {
                let nested = Obj::new(map, obj.at(key));
                check_fields(&nested, table, &[], language, &mut self.diagnostics);
                Some(nested)
            }
            _ => {
                self.diagnostics
                    .schema(obj.at(key), format!("The field '{key}' must be an object"));
                None
            }
        }
    }
}

/// A string field that must be one of `values`, reported in AWS's words.
fn one_of<'a>(
    obj: &Obj<'a>,
    diagnostics: &mut Diagnostics,
    key: &str,
    values: &[&str],
) -> Option<&'a str> {
    let value = obj.string(diagnostics, key)?;
    if values.contains(&value) {
        return Some(value);
    }
    diagnostics.schema(
        obj.at(key),
        format!(
            "The field '{key}' should have one of these values: [{}]",
            values.join(", ")
        ),
    );
    None
}

/// `s3:getObject` for `arn:<partition>:states:::s3:getObject`.
fn s3_action(resource: &str) -> Option<&str> {
    let rest = resource.strip_prefix("arn:")?;
    let (_partition, rest) = rest.split_once(':')?;
    let action = rest.strip_prefix("states:::")?;
    action.starts_with("s3:").then_some(action)
}

/// Refuses a valid field that steppe cannot carry out yet, naming it and saying why.
pub(super) fn refuse(diagnostics: &mut Diagnostics, location: String, key: &str, why: &str) {
    diagnostics.schema(
        location,
        format!("steppe does not support the field '{key}' yet: {why}"),
    );
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    /// Compiles a machine whose one state is a Map with `fields` and an item processor in
    /// `mode`; returns each diagnostic as `location: message`.
    fn check(fields: Value, mode: Option<&str>) -> Vec<String> {
        let mut state = json!({
            "Type": "Map",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "End": true
        });
        if let Some(mode) = mode {
            state["ItemProcessor"]["ProcessorConfig"] =
                json!({"Mode": mode, "ExecutionType": "STANDARD"});
        }
        let mut language = None;
        for (key, value) in fields.as_object().unwrap() {
            if key == "QueryLanguage" {
                language = Some(value.clone());
            }
            state[key] = value.clone();
        }
        let mut definition = json!({"StartAt": "Map", "States": {"Map": state}});
        if let Some(language) = language {
            definition["QueryLanguage"] = language;
            definition["States"]["Map"]
                .as_object_mut()
                .unwrap()
                .remove("QueryLanguage");
        }
        match crate::compile::compile_value(&definition) {
            Ok(_) => Vec::new(),
            Err(diagnostics) => diagnostics
                .iter()
                .map(|d| format!("{}: {}", d.location.as_deref().unwrap_or(""), d.message))
                .collect(),
        }
    }

    fn distributed(fields: Value) -> Vec<String> {
        check(fields, Some("DISTRIBUTED"))
    }

    const CSV_READER: &str = r#"{"Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
        "Parameters": {"Bucket": "b", "Key": "k.csv"}}"#;

    fn csv_reader() -> Value {
        serde_json::from_str(CSV_READER).unwrap()
    }

    #[test]
    fn csv_json_jsonl_and_listing_readers_are_accepted() {
        assert!(distributed(json!({"ItemReader": csv_reader()})).is_empty());
        let list = json!({"Resource": "arn:aws:states:::s3:listObjectsV2",
            "Parameters": {"Bucket": "b", "Prefix": "p/"}});
        assert!(distributed(json!({"ItemReader": list})).is_empty());
        let json = json!({"Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON", "ItemsPointer": "/a/b", "MaxItemsPath": "$.n"},
            "Parameters": {"Bucket": "b", "Key.$": "$.key"}});
        assert!(distributed(json!({"ItemReader": json})).is_empty());
    }

    #[test]
    fn readers_steppe_cannot_carry_out_are_refused_by_name() {
        let refused = |config: Value| {
            let reader = json!({"Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": config, "Parameters": {"Bucket": "b", "Key": "k"}});
            distributed(json!({"ItemReader": reader}))
        };
        assert_eq!(
            refused(json!({"InputType": "PARQUET"})),
            ["/States/Map/ItemReader: steppe does not support the field 'ItemReader' yet: it does not read Parquet objects yet"]
        );
        assert!(refused(json!({"InputType": "MANIFEST"})).is_empty());
        assert!(refused(json!({"ManifestType": "S3_INVENTORY"})).is_empty());
        assert_eq!(
            refused(json!({"ManifestType": "S3_INVENTORY", "CSVDelimiter": "PIPE"})),
            ["/States/Map/ItemReader: steppe does not support the field 'ItemReader' yet: it reads an S3 inventory's columns from its manifest's fileSchema, not from CSVDelimiter, CSVHeaderLocation or CSVHeaders"]
        );
        assert_eq!(
            refused(json!({"ManifestType": "ATHENA_DATA", "InputType": "CSV"})),
            ["/States/Map/ItemReader: steppe does not support the field 'ItemReader' yet: it does not read Athena manifests (ManifestType ATHENA_DATA) yet"]
        );
        let flatten = json!({"Resource": "arn:aws:states:::s3:listObjectsV2",
            "ReaderConfig": {"InputType": "JSONL", "Transformation": "LOAD_AND_FLATTEN"},
            "Parameters": {"Bucket": "b"}});
        assert_eq!(
            distributed(json!({"ItemReader": flatten})),
            ["/States/Map/ItemReader: steppe does not support the field 'ItemReader' yet: it does not load the listed objects (LOAD_AND_FLATTEN) yet"]
        );
    }

    #[test]
    fn jsonata_readers_take_arguments_and_jsonpath_readers_parameters() {
        let reader = json!({"Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSONL", "MaxItems": "{% 10 %}"},
            "Arguments": {"Bucket": "b", "Key": "{% $states.input.key %}"}});
        assert!(
            distributed(json!({"QueryLanguage": "JSONata", "ItemReader": reader.clone()}))
                .is_empty()
        );
        let messages = distributed(json!({"ItemReader": reader}));
        assert_eq!(
            messages[0],
            "/States/Map/ItemReader: The QueryLanguage is set to 'JSONPath', but field 'Arguments' is only supported for the 'JSONata' QueryLanguage"
        );
        assert!(messages[1..]
            .iter()
            .all(|message| message.starts_with("/States/Map/ItemReader/ReaderConfig/MaxItems: ")));
    }

    #[test]
    fn reader_config_values_are_checked() {
        let mut reader = csv_reader();
        reader["ReaderConfig"]["InputType"] = json!("BOGUS");
        assert_eq!(
            distributed(json!({"ItemReader": reader})),
            ["/States/Map/ItemReader/ReaderConfig/InputType: The field 'InputType' should have one of these values: [CSV, JSON, JSONL, PARQUET, MANIFEST]"]
        );
        let mut reader = csv_reader();
        reader["ReaderConfig"]["CSVHeaderLocation"] = json!("GIVEN");
        assert_eq!(
            distributed(json!({"ItemReader": reader})),
            ["/States/Map/ItemReader/ReaderConfig: These fields are required: [CSVHeaders]"]
        );
        let mut reader = csv_reader();
        reader["ReaderConfig"]["CSVDelimiter"] = json!("COLON");
        assert_eq!(
            distributed(json!({"ItemReader": reader})),
            ["/States/Map/ItemReader/ReaderConfig/CSVDelimiter: The field 'CSVDelimiter' should have one of these values: [COMMA, PIPE, SEMICOLON, SPACE, TAB]"]
        );
        let mut reader = csv_reader();
        reader["ReaderConfig"]["Bogus"] = json!(1);
        assert_eq!(
            distributed(json!({"ItemReader": reader})),
            ["/States/Map/ItemReader/ReaderConfig: Field 'Bogus' is not supported"]
        );
        let mut reader = csv_reader();
        reader["Resource"] = json!("arn:aws:states:::s3:putObject");
        assert_eq!(
            distributed(json!({"ItemReader": reader})),
            ["/States/Map/ItemReader/Resource: The field 'Resource' should have one of these values: [arn:aws:states:::s3:getObject, arn:aws:states:::s3:listObjectsV2]"]
        );
    }

    #[test]
    fn not_both_max_items_and_its_path() {
        // asl-validator's invalid-map-distributed.asl (AWS: either MaxItems or MaxItemsPath).
        let mut reader = csv_reader();
        reader["ReaderConfig"]["MaxItems"] = json!(1);
        reader["ReaderConfig"]["MaxItemsPath"] = json!("$.foo");
        assert_eq!(
            distributed(json!({"ItemReader": reader})),
            ["/States/Map/ItemReader/ReaderConfig: There should only be one of the following fields: [MaxItems, MaxItemsPath]"]
        );
    }

    #[test]
    fn item_batcher_fields_are_checked() {
        // The ItemBatcher page: "You can specify either the MaxItemsPerBatch or the
        // MaxItemsPerBatchPath (JSONPath only) sub-field, but not both", and likewise the
        // bytes; "You must specify one of these values to batch items"; up to 256 KiB.
        let both = json!({"ItemBatcher": {
            "MaxItemsPerBatch": 2, "MaxItemsPerBatchPath": "$.n",
            "MaxInputBytesPerBatch": 131072, "MaxInputBytesPerBatchPath": "$.n"}});
        assert_eq!(
            distributed(both),
            [
                "/States/Map/ItemBatcher: There should only be one of the following fields: [MaxItemsPerBatch, MaxItemsPerBatchPath]",
                "/States/Map/ItemBatcher: There should only be one of the following fields: [MaxInputBytesPerBatch, MaxInputBytesPerBatchPath]",
            ]
        );
        assert_eq!(
            distributed(json!({"ItemBatcher": {"BatchInput": {"a": 1}}})),
            ["/States/Map/ItemBatcher: At least one of the following fields is required: [MaxItemsPerBatch, MaxItemsPerBatchPath, MaxInputBytesPerBatch, MaxInputBytesPerBatchPath]"]
        );
        assert_eq!(
            distributed(json!({"ItemBatcher": {"MaxItemsPerBatch": 0}})),
            ["/States/Map/ItemBatcher/MaxItemsPerBatch: Minimum value is 1"]
        );
        assert_eq!(
            distributed(json!({"ItemBatcher": {"MaxInputBytesPerBatch": 262145}})),
            ["/States/Map/ItemBatcher/MaxInputBytesPerBatch: Maximum value is 262144"]
        );
        assert_eq!(
            distributed(json!({"ItemBatcher": {"MaxItemsPerBatchPath": "$$.x"}})),
            ["/States/Map/ItemBatcher/MaxItemsPerBatchPath: Value is not a Reference Path"]
        );
        assert!(distributed(json!({"ItemBatcher": {
            "MaxItemsPerBatchPath": "$.n", "MaxInputBytesPerBatch": 1024,
            "BatchInput": {"at.$": "$$.Execution.Name"}}}))
        .is_empty());
    }

    #[test]
    fn item_batcher_in_jsonata() {
        let jsonata = json!({"QueryLanguage": "JSONata", "ItemBatcher": {
            "MaxItemsPerBatch": "{% 2 %}", "MaxInputBytesPerBatch": "{% 131072 %}",
            "BatchInput": {"k": "{% $states.input.k %}"}}});
        assert!(distributed(jsonata).is_empty());
        let path =
            json!({"QueryLanguage": "JSONata", "ItemBatcher": {"MaxItemsPerBatchPath": "$.n"}});
        assert_eq!(
            distributed(path),
            ["/States/Map/ItemBatcher: The QueryLanguage is set to 'JSONata', but field 'MaxItemsPerBatchPath' is only supported for the 'JSONPath' QueryLanguage"]
        );
    }

    #[test]
    fn distributed_only_fields_are_refused_in_an_inline_map() {
        for mode in [None, Some("INLINE")] {
            assert_eq!(
                check(json!({"ItemBatcher": {"MaxItemsPerBatch": 2}}), mode),
                ["/States/Map/ItemBatcher: The field 'ItemBatcher' is only supported in a Map whose ProcessorConfig Mode is DISTRIBUTED"]
            );
        }
    }

    #[test]
    fn result_writer_is_checked_and_lone_jsonl_is_refused() {
        let writer = json!({"Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "b", "Prefix": "p"},
            "WriterConfig": {"OutputType": "JSONL", "Transformation": "FLATTEN"}});
        assert!(distributed(json!({"ResultWriter": writer})).is_empty());
        // Without a WriterConfig an export is NONE, each child execution's metadata.
        let export_only = json!({"Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "b", "Prefix": "p"}});
        assert!(distributed(json!({"ResultWriter": export_only})).is_empty());
        for transformation in ["NONE", "COMPACT", "FLATTEN"] {
            let config_only =
                json!({"WriterConfig": {"OutputType": "JSON", "Transformation": transformation}});
            assert!(distributed(json!({"ResultWriter": config_only})).is_empty());
        }
        let jsonl = json!({"WriterConfig": {"OutputType": "JSONL", "Transformation": "COMPACT"}});
        assert_eq!(distributed(json!({"ResultWriter": jsonl})).len(), 1);
        let bad = json!({"WriterConfig": {"OutputType": "CSV", "Transformation": "ZIP"}});
        assert_eq!(
            distributed(json!({"ResultWriter": bad})),
            [
                "/States/Map/ResultWriter/WriterConfig/OutputType: The field 'OutputType' should have one of these values: [JSON, JSONL]",
                "/States/Map/ResultWriter/WriterConfig/Transformation: The field 'Transformation' should have one of these values: [NONE, COMPACT, FLATTEN]",
            ]
        );
        assert_eq!(
            distributed(json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject"}})),
            ["/States/Map/ResultWriter: These fields are required: [Parameters]"]
        );
    }

    #[test]
    fn processor_config_values_are_checked() {
        let definition = |config: Value| {
            json!({"StartAt": "Map", "States": {"Map": {"Type": "Map", "End": true,
                "ItemProcessor": {"ProcessorConfig": config, "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "End": true}}}}}})
        };
        let messages = |config: Value| -> Vec<String> {
            match crate::compile::compile_value(&definition(config)) {
                Ok(_) => Vec::new(),
                Err(diagnostics) => diagnostics.iter().map(|d| d.message.clone()).collect(),
            }
        };
        assert_eq!(
            messages(json!({"Mode": "DISTRIBUTED", "ExecutionType": "SLOW"})),
            ["The field 'ExecutionType' should have one of these values: [STANDARD, EXPRESS]"]
        );
        assert_eq!(
            messages(json!({"Mode": "PARALLEL"})),
            ["The field 'Mode' should have one of these values: [INLINE, DISTRIBUTED]"]
        );
        assert_eq!(
            messages(json!({"Mode": "DISTRIBUTED"})),
            ["These fields are required: [ExecutionType]"]
        );
        assert!(messages(json!({"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"})).is_empty());
    }

    #[test]
    fn a_label_with_a_forbidden_character_is_refused() {
        assert!(distributed(json!({"Label": "ok-label_1"})).is_empty());
        assert_eq!(distributed(json!({"Label": "has space"})).len(), 1);
        assert_eq!(distributed(json!({"Label": "a/b"})).len(), 1);
        assert_eq!(check(json!({"Label": "inline"}), None).len(), 1);
    }
}
