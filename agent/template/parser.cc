#include "agent/template/parser.h"

#include <utility>

namespace agent::template_ {

namespace {

using ExprPtr = std::unique_ptr<Expr>;

class Parser {
 public:
  Parser(std::string_view src, const std::vector<Token>& toks) : src_(src), toks_(toks) {}

  Result<Body> run() {
    Body body;
    std::string end_tag;
    AGENT_TRY(nodes(body.nodes, {}, end_tag));
    return body;
  }

 private:
  const Token& peek(size_t ahead = 0) const {
    size_t i = pos_ + ahead;
    return i < toks_.size() ? toks_[i] : toks_.back();
  }
  const Token& next() {
    const Token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) pos_++;
    return t;
  }
  bool is_punct(std::string_view p, size_t ahead = 0) const {
    return peek(ahead).kind == Tok::kPunct && peek(ahead).text == p;
  }
  bool is_name(std::string_view n, size_t ahead = 0) const {
    return peek(ahead).kind == Tok::kName && peek(ahead).text == n;
  }
  bool accept_punct(std::string_view p) {
    if (!is_punct(p)) return false;
    next();
    return true;
  }
  bool accept_name(std::string_view n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }

  static std::string describe(const Token& t) {
    switch (t.kind) {
      case Tok::kPrintClose:
        return "'}}'";
      case Tok::kBlockClose:
        return "'%}'";
      case Tok::kEnd:
        return "the end of the template";
      case Tok::kString:
        return "a string";
      default:
        return "'" + t.text + "'";
    }
  }

  // An error at token `t`, naming the tag it is in.
  Error error_at(const Token& t, const std::string& msg) const {
    std::string where = tag_.source.empty() ? "" : " in " + tag_.source;
    return Error(Errc::kInvalidArgument, position(t.line, t.column) + msg + where);
  }
  Error unexpected(std::string_view wanted) const {
    return error_at(peek(), "expected " + std::string(wanted) + ", found " + describe(peek()));
  }

  // Sets tag_ to the tag opening at the current token (through its close).
  void begin_tag() {
    const Token& open = peek();
    size_t end = pos_;
    Tok close = open.kind == Tok::kPrintOpen ? Tok::kPrintClose : Tok::kBlockClose;
    while (end < toks_.size() && toks_[end].kind != close && toks_[end].kind != Tok::kEnd) end++;
    size_t stop = end < toks_.size() ? toks_[end].end : src_.size();
    tag_ = Tag{std::string(src_.substr(open.offset, stop - open.offset)), open.line, open.column};
  }

  Status nodes(Nodes& out, std::initializer_list<std::string_view> ends, std::string& end_tag) {
    while (true) {
      const Token& t = peek();
      if (t.kind == Tok::kEnd) {
        if (ends.size() == 0) return Status::ok_status();
        std::string want;
        for (std::string_view e : ends)
          want += (want.empty() ? "'" : " or '") + std::string(e) + "'";
        tag_ = open_block_;
        return Error(Errc::kInvalidArgument, position(open_block_.line, open_block_.column) +
                                                 "missing " + want + " for " + open_block_.source);
      }
      if (t.kind == Tok::kText) {
        Node n;
        n.kind = Node::Kind::kText;
        n.text = next().text;
        out.push_back(std::move(n));
        continue;
      }
      begin_tag();
      if (t.kind == Tok::kPrintOpen) {
        next();
        Node n;
        n.kind = Node::Kind::kOutput;
        n.tag = tag_;
        AGENT_ASSIGN_OR_RETURN(n.expr, expr());
        if (peek().kind != Tok::kPrintClose) return unexpected("'}}'");
        next();
        out.push_back(std::move(n));
        continue;
      }
      if (t.kind != Tok::kBlockOpen) return unexpected("text or a tag");
      next();
      if (peek().kind != Tok::kName) return unexpected("a tag name");
      const Token& name_tok = peek();
      std::string name = name_tok.text;
      for (std::string_view e : ends) {
        if (name == e) {
          next();
          end_tag = name;
          return Status::ok_status();
        }
      }
      next();
      if (name == "if") {
        AGENT_TRY(if_tag(out));
      } else if (name == "for") {
        AGENT_TRY(for_tag(out));
      } else {
        return error_at(name_tok, "unknown tag '" + name + "'");
      }
    }
  }

  Status end_block() {
    if (peek().kind != Tok::kBlockClose) return unexpected("'%}'");
    next();
    return Status::ok_status();
  }

  Status if_tag(Nodes& out) {
    Node n;
    n.kind = Node::Kind::kIf;
    Tag saved = open_block_;
    open_block_ = tag_;
    Branch b;
    b.tag = tag_;
    AGENT_ASSIGN_OR_RETURN(b.cond, expr());
    AGENT_TRY(end_block());
    while (true) {
      std::string end_tag;
      AGENT_TRY(nodes(b.body, {"elseif", "else", "endif"}, end_tag));
      n.branches.push_back(std::move(b));
      if (end_tag == "endif") {
        AGENT_TRY(end_block());
        break;
      }
      b = Branch{};
      b.tag = tag_;
      if (end_tag == "elseif") {
        AGENT_ASSIGN_OR_RETURN(b.cond, expr());
        AGENT_TRY(end_block());
        continue;
      }
      AGENT_TRY(end_block());  // else: only endif may follow
      AGENT_TRY(nodes(b.body, {"endif"}, end_tag));
      n.branches.push_back(std::move(b));
      AGENT_TRY(end_block());
      break;
    }
    open_block_ = saved;
    out.push_back(std::move(n));
    return Status::ok_status();
  }

  Status for_tag(Nodes& out) {
    Node n;
    n.kind = Node::Kind::kFor;
    n.tag = tag_;
    Tag saved = open_block_;
    open_block_ = tag_;
    if (peek().kind != Tok::kName) return unexpected("a loop variable");
    n.value_var = next().text;
    if (accept_punct(",")) {
      if (peek().kind != Tok::kName) return unexpected("a loop variable");
      n.key_var = std::move(n.value_var);
      n.value_var = next().text;
    }
    if (!accept_name("in")) return unexpected("'in'");
    AGENT_ASSIGN_OR_RETURN(n.expr, expr());
    AGENT_TRY(end_block());
    std::string end_tag;
    AGENT_TRY(nodes(n.body, {"else", "endfor"}, end_tag));
    if (end_tag == "else") {
      AGENT_TRY(end_block());
      AGENT_TRY(nodes(n.else_body, {"endfor"}, end_tag));
    }
    AGENT_TRY(end_block());
    open_block_ = saved;
    out.push_back(std::move(n));
    return Status::ok_status();
  }

  // ---- expressions, lowest precedence first ----

  ExprPtr make(Expr::Kind kind, const Token& at) const {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = at.line;
    e->column = at.column;
    return e;
  }
  void finish(Expr& e, size_t start_offset) const {
    size_t end = pos_ > 0 ? toks_[pos_ - 1].end : start_offset;
    if (end > start_offset) e.source = std::string(src_.substr(start_offset, end - start_offset));
  }
  ExprPtr binary(const Token& op, std::string name, ExprPtr l, ExprPtr r, size_t start) const {
    ExprPtr e = make(Expr::Kind::kBinary, op);
    e->name = std::move(name);
    e->kids.push_back(std::move(l));
    e->kids.push_back(std::move(r));
    finish(*e, start);
    return e;
  }

  Result<ExprPtr> expr() {
    size_t start = peek().offset;
    AGENT_ASSIGN_OR_RETURN(ExprPtr cond, or_expr());
    if (!is_punct("?")) return cond;
    const Token& q = next();
    AGENT_ASSIGN_OR_RETURN(ExprPtr a, expr());
    if (!accept_punct(":")) return unexpected("':'");
    AGENT_ASSIGN_OR_RETURN(ExprPtr b, expr());
    ExprPtr e = make(Expr::Kind::kTernary, q);
    e->kids.push_back(std::move(cond));
    e->kids.push_back(std::move(a));
    e->kids.push_back(std::move(b));
    finish(*e, start);
    return e;
  }

  Result<ExprPtr> or_expr() {
    size_t start = peek().offset;
    AGENT_ASSIGN_OR_RETURN(ExprPtr l, and_expr());
    while (is_name("or")) {
      const Token& op = next();
      AGENT_ASSIGN_OR_RETURN(ExprPtr r, and_expr());
      l = binary(op, "or", std::move(l), std::move(r), start);
    }
    return l;
  }

  Result<ExprPtr> and_expr() {
    size_t start = peek().offset;
    AGENT_ASSIGN_OR_RETURN(ExprPtr l, not_expr());
    while (is_name("and")) {
      const Token& op = next();
      AGENT_ASSIGN_OR_RETURN(ExprPtr r, not_expr());
      l = binary(op, "and", std::move(l), std::move(r), start);
    }
    return l;
  }

  Result<ExprPtr> not_expr() {
    if (!is_name("not")) return in_expr();
    size_t start = peek().offset;
    const Token& op = next();
    AGENT_ASSIGN_OR_RETURN(ExprPtr operand, not_expr());
    ExprPtr e = make(Expr::Kind::kUnary, op);
    e->name = "not";
    e->kids.push_back(std::move(operand));
    finish(*e, start);
    return e;
  }

  // `a in b` (b contains a), `a not in b`, `b contains a`.
  Result<ExprPtr> in_expr() {
    size_t start = peek().offset;
    AGENT_ASSIGN_OR_RETURN(ExprPtr l, cmp_expr());
    while (is_name("in") || is_name("contains") || (is_name("not") && is_name("in", 1))) {
      const Token& op = next();
      bool negate = op.text == "not";
      if (negate) next();
      AGENT_ASSIGN_OR_RETURN(ExprPtr r, cmp_expr());
      if (op.text == "contains") {
        l = binary(op, "in", std::move(r), std::move(l), start);
      } else {
        l = binary(op, "in", std::move(l), std::move(r), start);
      }
      if (negate) {
        ExprPtr n = make(Expr::Kind::kUnary, op);
        n->name = "not";
        n->kids.push_back(std::move(l));
        finish(*n, start);
        l = std::move(n);
      }
    }
    return l;
  }

  Result<ExprPtr> cmp_expr() {
    size_t start = peek().offset;
    AGENT_ASSIGN_OR_RETURN(ExprPtr l, test_expr());
    static constexpr std::string_view kOps[] = {"==", "!=", "<", ">", "<=", ">="};
    while (peek().kind == Tok::kPunct) {
      bool found = false;
      for (std::string_view op : kOps) found = found || peek().text == op;
      if (!found) break;
      const Token& op = next();
      AGENT_ASSIGN_OR_RETURN(ExprPtr r, test_expr());
      l = binary(op, op.text, std::move(l), std::move(r), start);
    }
    return l;
  }

  Result<ExprPtr> test_expr() {
    size_t start = peek().offset;
    AGENT_ASSIGN_OR_RETURN(ExprPtr l, add_expr());
    while (is_name("is")) {
      next();
      bool negate = accept_name("not");
      if (peek().kind != Tok::kName) return unexpected("a test name");
      const Token& name = next();
      ExprPtr e = make(Expr::Kind::kTest, name);
      e->name = name.text;
      e->negate = negate;
      e->kids.push_back(std::move(l));
      if (is_punct("(")) AGENT_TRY(args(*e));
      finish(*e, start);
      l = std::move(e);
    }
    return l;
  }

  Result<ExprPtr> add_expr() {
    size_t start = peek().offset;
    AGENT_ASSIGN_OR_RETURN(ExprPtr l, mul_expr());
    while (is_punct("+") || is_punct("-") || is_punct("~")) {
      const Token& op = next();
      AGENT_ASSIGN_OR_RETURN(ExprPtr r, mul_expr());
      l = binary(op, op.text, std::move(l), std::move(r), start);
    }
    return l;
  }

  Result<ExprPtr> mul_expr() {
    size_t start = peek().offset;
    AGENT_ASSIGN_OR_RETURN(ExprPtr l, unary_expr());
    while (is_punct("*") || is_punct("/") || is_punct("%")) {
      const Token& op = next();
      AGENT_ASSIGN_OR_RETURN(ExprPtr r, unary_expr());
      l = binary(op, op.text, std::move(l), std::move(r), start);
    }
    return l;
  }

  Result<ExprPtr> unary_expr() {
    if (!is_punct("-") && !is_punct("+")) return postfix_expr();
    size_t start = peek().offset;
    const Token& op = next();
    AGENT_ASSIGN_OR_RETURN(ExprPtr operand, unary_expr());
    if (op.text == "+") return operand;
    ExprPtr e = make(Expr::Kind::kUnary, op);
    e->name = "-";
    e->kids.push_back(std::move(operand));
    finish(*e, start);
    return e;
  }

  Result<ExprPtr> postfix_expr() {
    size_t start = peek().offset;
    AGENT_ASSIGN_OR_RETURN(ExprPtr e, primary());
    while (true) {
      if (is_punct(".")) {
        const Token& dot = next();
        if (peek().kind != Tok::kName && peek().kind != Tok::kInt) {
          return unexpected("an attribute name");
        }
        const Token& name = next();
        ExprPtr key = make(Expr::Kind::kLiteral, name);
        key->literal = Value(name.text);
        ExprPtr a = make(Expr::Kind::kAttr, dot);
        a->kids.push_back(std::move(e));
        a->kids.push_back(std::move(key));
        finish(*a, start);
        e = std::move(a);
        if (is_punct("(")) return error_at(peek(), "method calls are not supported");
      } else if (is_punct("[")) {
        const Token& open = next();
        AGENT_ASSIGN_OR_RETURN(ExprPtr key, expr());
        if (!accept_punct("]")) return unexpected("']'");
        ExprPtr a = make(Expr::Kind::kAttr, open);
        a->kids.push_back(std::move(e));
        a->kids.push_back(std::move(key));
        finish(*a, start);
        e = std::move(a);
      } else if (is_punct("|")) {
        next();
        if (peek().kind != Tok::kName) return unexpected("a filter name");
        const Token& name = next();
        ExprPtr f = make(Expr::Kind::kFilter, name);
        f->name = name.text;
        f->kids.push_back(std::move(e));
        if (is_punct("(")) AGENT_TRY(args(*f));
        finish(*f, start);
        e = std::move(f);
      } else {
        return e;
      }
    }
  }

  // "(" [name "="] expr, ... ")" appended to e.kids and e.arg_names.
  Status args(Expr& e) {
    next();  // (
    while (!is_punct(")")) {
      std::string name;
      if (peek().kind == Tok::kName && is_punct("=", 1)) {
        name = next().text;
        next();
      }
      AGENT_ASSIGN_OR_RETURN(ExprPtr a, expr());
      e.kids.push_back(std::move(a));
      e.arg_names.push_back(std::move(name));
      if (!accept_punct(",")) break;
    }
    if (!accept_punct(")")) return unexpected("')'");
    return Status::ok_status();
  }

  Result<ExprPtr> primary() {
    size_t start = peek().offset;
    const Token& t = peek();
    switch (t.kind) {
      case Tok::kInt:
      case Tok::kDouble:
      case Tok::kString: {
        next();
        ExprPtr e = make(Expr::Kind::kLiteral, t);
        if (t.kind == Tok::kInt) e->literal = Value(t.int_value);
        if (t.kind == Tok::kDouble) e->literal = Value(t.double_value);
        if (t.kind == Tok::kString) e->literal = Value(t.text);
        finish(*e, start);
        return e;
      }
      case Tok::kName: {
        next();
        ExprPtr e = make(Expr::Kind::kVar, t);
        if (t.text == "true" || t.text == "false") {
          e->kind = Expr::Kind::kLiteral;
          e->literal = Value(t.text == "true");
        } else if (t.text == "null" || t.text == "none") {
          e->kind = Expr::Kind::kLiteral;
        } else if (is_punct("(")) {
          e->kind = Expr::Kind::kCall;
          e->name = t.text;
          AGENT_TRY(args(*e));
        } else {
          e->name = t.text;
        }
        finish(*e, start);
        return e;
      }
      case Tok::kPunct:
        if (t.text == "(") {
          next();
          AGENT_ASSIGN_OR_RETURN(ExprPtr e, expr());
          if (!accept_punct(")")) return unexpected("')'");
          return e;
        }
        if (t.text == "[") return list_literal();
        if (t.text == "{") return map_literal();
        break;
      default:
        break;
    }
    return unexpected("an expression");
  }

  Result<ExprPtr> list_literal() {
    size_t start = peek().offset;
    ExprPtr e = make(Expr::Kind::kList, next());
    while (!is_punct("]")) {
      AGENT_ASSIGN_OR_RETURN(ExprPtr item, expr());
      e->kids.push_back(std::move(item));
      if (!accept_punct(",")) break;
    }
    if (!accept_punct("]")) return unexpected("']'");
    finish(*e, start);
    return e;
  }

  Result<ExprPtr> map_literal() {
    size_t start = peek().offset;
    ExprPtr e = make(Expr::Kind::kMap, next());
    while (!is_punct("}")) {
      AGENT_ASSIGN_OR_RETURN(ExprPtr key, expr());
      if (!accept_punct(":")) return unexpected("':'");
      AGENT_ASSIGN_OR_RETURN(ExprPtr value, expr());
      e->kids.push_back(std::move(key));
      e->kids.push_back(std::move(value));
      if (!accept_punct(",")) break;
    }
    if (!accept_punct("}")) return unexpected("'}'");
    finish(*e, start);
    return e;
  }

  std::string_view src_;
  const std::vector<Token>& toks_;
  size_t pos_ = 0;
  Tag tag_;         // the tag being parsed
  Tag open_block_;  // the innermost open if/for, for "missing endif"
};

}  // namespace

Result<Body> parse_tokens(std::string_view tmpl, const std::vector<Token>& tokens) {
  return Parser(tmpl, tokens).run();
}

}  // namespace agent::template_
