#include "agent/template/lexer.h"

#include <cctype>
#include <charconv>
#include <cstdlib>

namespace agent::template_ {

std::string position(int line, int column) {
  return "line " + std::to_string(line) + ", column " + std::to_string(column) + ": ";
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  Result<std::vector<Token>> run() {
    bool trim_next = false;
    while (pos_ < src_.size()) {
      size_t open = find_open(pos_);
      std::string_view text = src_.substr(pos_, open - pos_);
      if (trim_next) {
        while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
      }
      bool trim_prev = open + 2 < src_.size() && src_[open + 2] == '-';
      if (trim_prev) {
        while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
      }
      if (!text.empty()) {
        Token t = make(Tok::kText, static_cast<size_t>(text.data() - src_.data()));
        t.text = std::string(text);
        t.end = t.offset + text.size();
        out_.push_back(std::move(t));
      }
      advance_to(open);
      if (pos_ >= src_.size()) break;
      AGENT_ASSIGN_OR_RETURN(trim_next, tag());
    }
    Token end = make(Tok::kEnd, pos_);
    out_.push_back(std::move(end));
    return std::move(out_);
  }

 private:
  size_t find_open(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); i++) {
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) {
        return i;
      }
    }
    return src_.size();
  }

  void advance_to(size_t to) {
    for (; pos_ < to; pos_++) {
      if (src_[pos_] == '\n') {
        line_++;
        col_ = 1;
      } else {
        col_++;
      }
    }
  }

  Token make(Tok kind, size_t offset) const {
    Token t;
    t.kind = kind;
    t.offset = offset;
    t.end = offset;
    t.line = line_;
    t.column = col_;
    return t;
  }

  Error error(std::string msg) const {
    return Error(Errc::kInvalidArgument, position(line_, col_) + msg);
  }

  // At "{{", "{%" or "{#": lexes the tag; returns whether it ends with "-".
  Result<bool> tag() {
    char kind = src_[pos_ + 1];
    int start_line = line_;
    int start_col = col_;
    size_t start = pos_;
    bool trim = pos_ + 2 < src_.size() && src_[pos_ + 2] == '-';
    if (kind == '#') {
      size_t close = src_.find("#}", pos_ + 2);
      if (close == std::string_view::npos) {
        return Error(Errc::kInvalidArgument,
                     position(start_line, start_col) + "unclosed comment '{#'");
      }
      bool trim_after = close > pos_ + 2 && src_[close - 1] == '-';
      advance_to(close + 2);
      return trim_after;
    }
    Token open = make(kind == '{' ? Tok::kPrintOpen : Tok::kBlockOpen, pos_);
    braces_ = 0;
    advance_to(pos_ + (trim ? 3 : 2));
    open.end = pos_;
    out_.push_back(std::move(open));
    char close_char = kind == '{' ? '}' : '%';
    while (true) {
      while (pos_ < src_.size() && is_space(src_[pos_])) advance_to(pos_ + 1);
      if (pos_ >= src_.size()) {
        return Error(Errc::kInvalidArgument, position(start_line, start_col) + "unclosed tag '" +
                                                 std::string(src_.substr(start, 2)) + "'");
      }
      char c = src_[pos_];
      bool dash_close = c == '-' && pos_ + 2 < src_.size() && src_[pos_ + 1] == close_char &&
                        src_[pos_ + 2] == '}';
      bool plain_close = c == close_char && pos_ + 1 < src_.size() && src_[pos_ + 1] == '}';
      // "}}" inside `{{ {'a': {'b': 1}} }}` closes map literals first.
      if (braces_ == 0 && (dash_close || plain_close)) {
        Token t = make(kind == '{' ? Tok::kPrintClose : Tok::kBlockClose, pos_);
        advance_to(pos_ + (dash_close ? 3 : 2));
        t.end = pos_;
        out_.push_back(std::move(t));
        return dash_close;
      }
      AGENT_TRY(token());
    }
  }

  Status token() {
    char c = src_[pos_];
    Token t = make(Tok::kPunct, pos_);
    if (is_name_start(c)) {
      size_t e = pos_;
      while (e < src_.size() && is_name_char(src_[e])) e++;
      t.kind = Tok::kName;
      t.text = std::string(src_.substr(pos_, e - pos_));
      advance_to(e);
    } else if (std::isdigit(static_cast<unsigned char>(c)) != 0) {
      AGENT_TRY(number(t));
    } else if (c == '\'' || c == '"') {
      AGENT_TRY(string(t));
    } else {
      static constexpr std::string_view kTwo[] = {"==", "!=", "<=", ">="};
      std::string_view rest = src_.substr(pos_);
      for (std::string_view op : kTwo) {
        if (rest.substr(0, 2) == op) t.text = std::string(op);
      }
      if (t.text.empty()) {
        if (std::string_view("+-*/%~|.,:?()[]{}<>=!").find(c) == std::string_view::npos) {
          return error(std::string("unexpected character '") + c + "'");
        }
        t.text = std::string(1, c);
      }
      if (c == '{') braces_++;
      if (c == '}' && braces_ > 0) braces_--;
      advance_to(pos_ + t.text.size());
    }
    t.end = pos_;
    out_.push_back(std::move(t));
    return Status::ok_status();
  }

  Status number(Token& t) {
    size_t e = pos_;
    while (e < src_.size() && std::isdigit(static_cast<unsigned char>(src_[e])) != 0) e++;
    bool is_double = false;
    if (e + 1 < src_.size() && src_[e] == '.' &&
        std::isdigit(static_cast<unsigned char>(src_[e + 1])) != 0) {
      is_double = true;
      e++;
      while (e < src_.size() && std::isdigit(static_cast<unsigned char>(src_[e])) != 0) e++;
    }
    std::string text(src_.substr(pos_, e - pos_));
    if (is_double) {
      t.kind = Tok::kDouble;
      t.double_value = std::strtod(text.c_str(), nullptr);
    } else {
      t.kind = Tok::kInt;
      auto r = std::from_chars(text.data(), text.data() + text.size(), t.int_value);
      if (r.ec != std::errc()) return error("integer out of range: " + text);
    }
    t.text = text;
    advance_to(e);
    return Status::ok_status();
  }

  Status string(Token& t) {
    char quote = src_[pos_];
    size_t i = pos_ + 1;
    std::string out;
    while (true) {
      if (i >= src_.size()) return error("unterminated string");
      char c = src_[i];
      if (c == quote) break;
      if (c == '\\' && i + 1 < src_.size()) {
        char n = src_[i + 1];
        i += 2;
        switch (n) {
          case 'n':
            out += '\n';
            break;
          case 't':
            out += '\t';
            break;
          case 'r':
            out += '\r';
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case '0':
            out += '\0';
            break;
          case 'u': {
            uint32_t cp = 0;
            if (i + 4 > src_.size() ||
                std::from_chars(src_.data() + i, src_.data() + i + 4, cp, 16).ptr !=
                    src_.data() + i + 4) {
              return error("bad \\u escape in string");
            }
            append_utf8(out, cp);
            i += 4;
            break;
          }
          default:
            out += n;
            break;  // \\, \', \" and anything else: the character
        }
        continue;
      }
      out += c;
      i++;
    }
    t.kind = Tok::kString;
    t.text = std::move(out);
    advance_to(i + 1);
    return Status::ok_status();
  }

  std::string_view src_;
  size_t pos_ = 0;
  int line_ = 1;
  int col_ = 1;
  int braces_ = 0;  // map literals open in the current tag
  std::vector<Token> out_;
};

}  // namespace

Result<std::vector<Token>> tokenize(std::string_view tmpl) { return Lexer(tmpl).run(); }

}  // namespace agent::template_
