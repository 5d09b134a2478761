// A flow's `inputs`: their declarations (Kestra's input types and their
// validation properties) and the resolution of the values a submission gives
// into typed template values (`{{ inputs.x }}`).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/common/result.h"
#include "agent/json/read.h"
#include "agent/template/value.h"

namespace agent::flow {

struct InputDef {
  std::string id;
  std::string type;  // STRING, INT, ... as Kestra names them (ENUM is read as SELECT)
  std::string description;
  std::string display_name;
  bool required = true;
  std::optional<template_::Value> defaults;
  // Validation, by type.
  std::string validator;                       // STRING: a regex, full match
  std::optional<double> min, max;              // INT, FLOAT
  std::optional<int64_t> min_length, max_length;  // STRING
  std::vector<std::string> values;             // SELECT, MULTISELECT
  bool allow_custom_value = false;             // SELECT, MULTISELECT
  std::string after, before;                   // DATETIME, DATE, TIME (as written)
  std::string min_duration, max_duration;      // DURATION
  std::string item_type;                       // ARRAY
};

// The types runnerd accepts, for error messages.
const std::vector<std::string_view>& input_types();

// Parses a flow's `inputs` list. Legacy `name` is taken as `id` and legacy
// type `ENUM` as SELECT, each with a warning.
Result<std::vector<InputDef>> parse_inputs(json::Element inputs, std::string_view path,
                                           std::vector<std::string>* warnings);

// Stores an uploaded FILE input; returns its kestra:// URI.
using FileInputStore = std::function<Result<std::string>(
    std::string_view input_id, std::string_view filename, std::string_view bytes)>;

// `supplied` is a map id -> value: strings are converted to the input's type,
// JSON values of the right kind are taken as they are, a FILE input is a
// kestra:// URI or {"filename", "contentBase64"}. Returns a map in declaration
// order; a missing optional input without default is null. SECRET values are
// appended to *secrets for masking. Errors have path "inputs.<id>".
Result<template_::Value> resolve_inputs(const std::vector<InputDef>& defs,
                                        const template_::Value& supplied,
                                        const FileInputStore& store_file,
                                        std::vector<std::string>* secrets);

}  // namespace agent::flow
