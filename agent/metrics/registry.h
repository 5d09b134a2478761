// Prometheus metrics: a fixed-bucket histogram the owners of the numbers keep
// (an observation is a binary search and an array increment on the loop), and
// a registry that is filled only when someone scrapes and rendered in the
// text exposition format 0.0.4.
//
// The owners keep their own counters and histograms as plain fields; at a
// scrape each writes what it has into a fresh Registry (write_metrics), which
// then renders: HELP and TYPE lines, label values escaped, counters named
// `..._total`, histograms with cumulative `le` buckets ending in +Inf, `_sum`
// and `_count`. Values are in base units (seconds, bytes).
// Names and label names are checked (a bad one is a bug: AGENT_CHECK).
// Threading: none; each object is used by one thread (the loop).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace agent::metrics {

// Bucket upper bounds for durations, in seconds: a millisecond to four hours
// (task start latency, task run time, engine calls).
inline constexpr double kDurationBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,  0.5,    1,     2.5,  5,     10,   30,
                                              60,    120,    300,   600,  1800,  3600, 7200,
                                              14400};

// Counts of observations per bucket; bucket i holds those <= bounds[i] (and
// above bounds[i-1]), the last one those above every bound (+Inf).
class Histogram {
 public:
  Histogram() : Histogram(kDurationBuckets) {}
  // `bounds`: ascending, finite; must outlive the histogram (a constant table).
  explicit Histogram(std::span<const double> bounds);
  void observe(double value);

  std::span<const double> bounds() const { return bounds_; }
  // Not cumulative; bounds().size() + 1 entries.
  const std::vector<uint64_t>& buckets() const { return buckets_; }
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::span<const double> bounds_;
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

enum class Type { kCounter, kGauge, kHistogram };

// Label name -> value, in the order they are written.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Family {
 public:
  const std::string& name() const { return name_; }
  Type type() const { return type_; }

  // A counter's or gauge's value for one label set. A label set given again
  // adds to the value it has (several sources of one series).
  Family& add(Labels labels, double value);
  // A histogram for one label set; given again, the counts add up (the bucket
  // bounds must be the same).
  Family& add(Labels labels, const Histogram& h);
  // The same from raw parts: non-cumulative bucket counts, one more than bounds.
  Family& add_histogram(Labels labels, std::span<const double> bounds,
                        std::span<const uint64_t> buckets, double sum);

 private:
  friend class Registry;
  struct Series {
    Labels labels;
    double value = 0;
    std::vector<double> bounds;     // histograms
    std::vector<uint64_t> buckets;  // histograms, not cumulative
    double sum = 0;
  };
  Family(std::string name, std::string help, Type type)
      : name_(std::move(name)), help_(std::move(help)), type_(type) {}
  Series& series(Labels&& labels);
  void write(std::string& out) const;

  std::string name_;
  std::string help_;
  Type type_;
  std::vector<Series> series_;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The family of that name, made on first use with `help`; asked again with
  // another type it is a bug. Counter names end in `_total`.
  Family& counter(std::string_view name, std::string_view help);
  Family& gauge(std::string_view name, std::string_view help);
  Family& histogram(std::string_view name, std::string_view help);

  // Every family, in the order they were first asked for, as the text
  // exposition format 0.0.4 has them.
  std::string text() const;
  // The names of the families.
  std::vector<std::string> names() const;

 private:
  Family& family(std::string_view name, std::string_view help, Type type);
  std::vector<std::unique_ptr<Family>> families_;
};

// Text format 0.0.4's Content-Type.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Escapes for the exposition: a label value (backslash, double quote, line
// feed) and a HELP text (backslash, line feed).
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);
// A sample value as Prometheus reads it: shortest round-trip form, "+Inf",
// "-Inf", "NaN".
std::string format_value(double v);
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

}  // namespace agent::metrics
