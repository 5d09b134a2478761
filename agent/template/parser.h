// The syntax tree of a template and the parser that builds it from tokens.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/common/result.h"
#include "agent/template/lexer.h"
#include "agent/template/value.h"

namespace agent::template_ {

struct Expr {
  enum class Kind : uint8_t {
    kLiteral,  // literal
    kVar,      // name
    kAttr,     // kids: object, key (`a.b` gives a literal key)
    kList,     // kids: items
    kMap,      // kids: key, value, key, value...
    kUnary,    // name: "not" or "-"; kids: operand
    kBinary,   // name: the operator; kids: left, right
    kTernary,  // kids: condition, then, else
    kFilter,   // name: filter; kids: input, args...
    kCall,     // name: function; kids: args...
    kTest,     // name: test; negate; kids: input, args...
  };
  Kind kind = Kind::kLiteral;
  std::string name;
  Value literal;
  std::vector<std::unique_ptr<Expr>> kids;
  // For filters, functions and tests: the name of each argument ("" when positional),
  // aligned with the arguments (kids after the input for filters and tests).
  std::vector<std::string> arg_names;
  bool negate = false;
  int line = 1;
  int column = 1;
  std::string source;  // the expression's text, for "unable to find variable 'a.b'"
};

struct Node;
using Nodes = std::vector<Node>;

// Where a tag is, for error messages: "line 1, column 4: ... in {{ x | uppr }}".
struct Tag {
  std::string source;
  int line = 1;
  int column = 1;
};

struct Branch {
  Tag tag;
  std::unique_ptr<Expr> cond;  // null for else
  Nodes body;
};

struct Node {
  enum class Kind : uint8_t { kText, kOutput, kIf, kFor };
  Kind kind = Kind::kText;
  std::string text;
  Tag tag;
  std::unique_ptr<Expr> expr;    // output; for: the iterable
  std::vector<Branch> branches;  // if: if, elseif..., else (cond null)
  std::string key_var;           // for k, v in map: "k"; for x in list: ""
  std::string value_var;
  Nodes body;       // for
  Nodes else_body;  // for ... else (empty iterable)
};

struct Body {
  Nodes nodes;
};

Result<Body> parse_tokens(std::string_view tmpl, const std::vector<Token>& tokens);

}  // namespace agent::template_
