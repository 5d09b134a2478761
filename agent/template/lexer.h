// Splits a template into text and the tokens of its `{{ }}` and `{% %}` tags.
// Comments `{# #}` are dropped; whitespace control (`{{-`, `-}}`, `{%-`,
// `-%}`, `{#-`, `-#}`) trims the neighbouring text while lexing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/common/result.h"

namespace agent::template_ {

enum class Tok : uint8_t {
  kText,        // text: literal output
  kPrintOpen,   // {{
  kPrintClose,  // }}
  kBlockOpen,   // {%
  kBlockClose,  // %}
  kName,        // identifiers and word operators (and, or, not, is, in)
  kInt,
  kDouble,
  kString,  // text: the decoded string
  kPunct,   // text: an operator or punctuation ("==", "(", "|", ...)
  kEnd,
};

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;
  int64_t int_value = 0;
  double double_value = 0;
  size_t offset = 0;  // in the template
  size_t end = 0;     // one past the token in the template
  int line = 1;
  int column = 1;
};

// "line 2, column 7: " for an offset of `tmpl`.
std::string position(int line, int column);

Result<std::vector<Token>> tokenize(std::string_view tmpl);

}  // namespace agent::template_
