#include "agent/metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "agent/common/result.h"

namespace agent::metrics {

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds), buckets_(bounds.size() + 1, 0) {}

void Histogram::observe(double value) {
  // The first bound >= value: `le` is inclusive.
  size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                 bounds_.begin());
  buckets_[i]++;
  count_++;
  sum_ += value;
}

namespace {

bool name_char(char c, bool first, bool colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (colon && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

bool same_labels(const Labels& a, const Labels& b) { return a == b; }

void write_labels(std::string& out, const Labels& labels, std::string_view le = {}) {
  if (labels.empty() && le.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  }
  if (!le.empty()) {
    if (!first) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}

}  // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); i++) {
    if (!name_char(name[i], i == 0, true)) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); i++) {
    if (!name_char(name[i], i == 0, false)) return false;
  }
  return true;
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Whole numbers (most counters) as integers: 100000, not 1e+05.
  if (std::fabs(v) < 9007199254740992.0 && v == std::trunc(v)) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
  AGENT_CHECK(ec == std::errc());
  return std::string(buf, end);
}

Family::Series& Family::series(Labels&& labels) {
  for (const auto& [k, v] : labels) {
    AGENT_CHECK(valid_label_name(k));
    AGENT_CHECK(type_ != Type::kHistogram || k != "le");
  }
  for (Series& s : series_) {
    if (same_labels(s.labels, labels)) return s;
  }
  series_.emplace_back();
  series_.back().labels = std::move(labels);
  return series_.back();
}

Family& Family::add(Labels labels, double value) {
  AGENT_CHECK(type_ != Type::kHistogram);
  series(std::move(labels)).value += value;
  return *this;
}

Family& Family::add(Labels labels, const Histogram& h) {
  return add_histogram(std::move(labels), h.bounds(), h.buckets(), h.sum());
}

Family& Family::add_histogram(Labels labels, std::span<const double> bounds,
                              std::span<const uint64_t> buckets, double sum) {
  AGENT_CHECK(type_ == Type::kHistogram);
  AGENT_CHECK(buckets.size() == bounds.size() + 1);
  AGENT_CHECK(std::is_sorted(bounds.begin(), bounds.end()));
  Series& s = series(std::move(labels));
  if (s.buckets.empty()) {
    s.bounds.assign(bounds.begin(), bounds.end());
    s.buckets.assign(buckets.size(), 0);
  }
  AGENT_CHECK(std::equal(s.bounds.begin(), s.bounds.end(), bounds.begin(), bounds.end()));
  for (size_t i = 0; i < buckets.size(); i++) s.buckets[i] += buckets[i];
  s.sum += sum;
  return *this;
}

void Family::write(std::string& out) const {
  std::string_view type = type_ == Type::kCounter ? "counter"
                          : type_ == Type::kGauge ? "gauge"
                                                  : "histogram";
  out += "# HELP " + name_ + " " + escape_help(help_) + "\n";
  out += "# TYPE " + name_ + " ";
  out += type;
  out += '\n';
  for (const Series& s : series_) {
    if (type_ != Type::kHistogram) {
      out += name_;
      write_labels(out, s.labels);
      out += ' ';
      out += format_value(s.value);
      out += '\n';
      continue;
    }
    uint64_t cumulative = 0;
    for (size_t i = 0; i < s.buckets.size(); i++) {
      cumulative += s.buckets[i];
      out += name_;
      out += "_bucket";
      write_labels(out, s.labels, i < s.bounds.size() ? format_value(s.bounds[i]) : "+Inf");
      out += ' ';
      out += std::to_string(cumulative);
      out += '\n';
    }
    out += name_ + "_sum";
    write_labels(out, s.labels);
    out += ' ' + format_value(s.sum) + '\n';
    out += name_ + "_count";
    write_labels(out, s.labels);
    out += ' ' + std::to_string(cumulative) + '\n';
  }
}

Family& Registry::family(std::string_view name, std::string_view help, Type type) {
  AGENT_CHECK(valid_metric_name(name));
  AGENT_CHECK(type != Type::kCounter || name.ends_with("_total"));
  for (auto& f : families_) {
    if (f->name_ == name) {
      AGENT_CHECK(f->type_ == type);
      return *f;
    }
  }
  families_.push_back(
      std::unique_ptr<Family>(new Family(std::string(name), std::string(help), type)));
  return *families_.back();
}

Family& Registry::counter(std::string_view name, std::string_view help) {
  return family(name, help, Type::kCounter);
}

Family& Registry::gauge(std::string_view name, std::string_view help) {
  return family(name, help, Type::kGauge);
}

Family& Registry::histogram(std::string_view name, std::string_view help) {
  return family(name, help, Type::kHistogram);
}

std::string Registry::text() const {
  std::string out;
  for (const auto& f : families_) f->write(out);
  return out;
}

std::vector<std::string> Registry::names() const {
  std::vector<std::string> out;
  for (const auto& f : families_) out.push_back(f->name_);
  return out;
}

}  // namespace agent::metrics
