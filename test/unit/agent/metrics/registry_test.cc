// The registry and the text exposition format 0.0.4: HELP and TYPE lines,
// escaping, counters' `_total`, cumulative `le` buckets ending in +Inf,
// `_sum` and `_count`.
#include "agent/metrics/registry.h"

#include <gtest/gtest.h>

namespace {

using agent::metrics::Histogram;
using agent::metrics::Registry;

TEST(MetricsRegistry, CountersAndGaugesWithHelpTypeAndLabels) {
  Registry r;
  r.counter("runnerd_things_total", "Things done.").add({{"kind", "a"}}, 3).add({{"kind", "b"}}, 0);
  r.gauge("runnerd_level", "A level.").add({}, 2.5);
  EXPECT_EQ(r.text(),
            "# HELP runnerd_things_total Things done.\n"
            "# TYPE runnerd_things_total counter\n"
            "runnerd_things_total{kind=\"a\"} 3\n"
            "runnerd_things_total{kind=\"b\"} 0\n"
            "# HELP runnerd_level A level.\n"
            "# TYPE runnerd_level gauge\n"
            "runnerd_level 2.5\n");
  EXPECT_EQ(r.names(), (std::vector<std::string>{"runnerd_things_total", "runnerd_level"}));
}

TEST(MetricsRegistry, AFamilyAskedAgainIsTheSameAndALabelSetAddsUp) {
  Registry r;
  r.counter("x_total", "X.").add({{"runner", "a"}}, 1);
  r.counter("x_total", "X.").add({{"runner", "a"}}, 2).add({{"runner", "b"}}, 5);
  EXPECT_EQ(r.text(), "# HELP x_total X.\n# TYPE x_total counter\nx_total{runner=\"a\"} 3\nx_total{runner=\"b\"} 5\n");
}

TEST(MetricsRegistry, LabelValuesAndHelpAreEscaped) {
  Registry r;
  r.gauge("g", "Help with \\ and\nnewline and \"quotes\".").add({{"v", "a\\b\"c\nd"}}, 1);
  EXPECT_EQ(r.text(),
            "# HELP g Help with \\\\ and\\nnewline and \"quotes\".\n"
            "# TYPE g gauge\n"
            "g{v=\"a\\\\b\\\"c\\nd\"} 1\n");
  EXPECT_EQ(agent::metrics::escape_label_value("plain"), "plain");
}

TEST(MetricsRegistry, ValuesAsPrometheusReadsThem) {
  using agent::metrics::format_value;
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(100000), "100000");
  EXPECT_EQ(format_value(-3), "-3");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(0.0005), "0.0005");
  EXPECT_EQ(format_value(1.5e-6), "1.5e-06");
  EXPECT_EQ(format_value(1e300), "1e+300");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(MetricsRegistry, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  static constexpr double kBounds[] = {0.1, 1, 10};
  Histogram h(kBounds);
  for (double v : {0.05, 0.1, 0.5, 1.0, 7.0, 100.0}) h.observe(v);
  // `le` is inclusive: 0.1 is in the first bucket, 1.0 in the second.
  EXPECT_EQ(h.buckets(), (std::vector<uint64_t>{2, 2, 1, 1}));
  EXPECT_EQ(h.count(), 6u);
  Registry r;
  r.histogram("runnerd_wait_seconds", "Waits.").add({{"runner", "p"}}, h);
  EXPECT_EQ(r.text(),
            "# HELP runnerd_wait_seconds Waits.\n"
            "# TYPE runnerd_wait_seconds histogram\n"
            "runnerd_wait_seconds_bucket{runner=\"p\",le=\"0.1\"} 2\n"
            "runnerd_wait_seconds_bucket{runner=\"p\",le=\"1\"} 4\n"
            "runnerd_wait_seconds_bucket{runner=\"p\",le=\"10\"} 5\n"
            "runnerd_wait_seconds_bucket{runner=\"p\",le=\"+Inf\"} 6\n"
            "runnerd_wait_seconds_sum{runner=\"p\"} 108.65\n"
            "runnerd_wait_seconds_count{runner=\"p\"} 6\n");
}

TEST(MetricsRegistry, AHistogramWithoutLabelsAndTwoSourcesAddingUp) {
  static constexpr double kBounds[] = {1};
  Histogram a(kBounds), b(kBounds);
  a.observe(0.5);
  b.observe(2);
  Registry r;
  r.histogram("h_seconds", "H.").add({}, a).add({}, b);
  EXPECT_EQ(r.text(),
            "# HELP h_seconds H.\n# TYPE h_seconds histogram\n"
            "h_seconds_bucket{le=\"1\"} 1\nh_seconds_bucket{le=\"+Inf\"} 2\n"
            "h_seconds_sum 2.5\nh_seconds_count 2\n");
}

TEST(MetricsRegistry, TheDefaultBucketsGoFromAMillisecondToHours) {
  Histogram h;
  EXPECT_EQ(h.bounds().front(), 0.001);
  EXPECT_GE(h.bounds().back(), 3600);
  EXPECT_TRUE(std::is_sorted(h.bounds().begin(), h.bounds().end()));
  h.observe(1e9);
  EXPECT_EQ(h.buckets().back(), 1u);
}

TEST(MetricsRegistry, NamesAreChecked) {
  using agent::metrics::valid_label_name;
  using agent::metrics::valid_metric_name;
  EXPECT_TRUE(valid_metric_name("runnerd_tasks"));
  EXPECT_TRUE(valid_metric_name("a:b_c1"));
  EXPECT_FALSE(valid_metric_name("1abc"));
  EXPECT_FALSE(valid_metric_name("a-b"));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_TRUE(valid_label_name("runner"));
  EXPECT_FALSE(valid_label_name("__name"));
  EXPECT_FALSE(valid_label_name("a:b"));
  EXPECT_FALSE(valid_label_name("9"));
}

TEST(MetricsRegistryDeathTest, MisuseIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Registry r;
        r.counter("no_suffix", "A counter must end in _total.");
      },
      "");
  EXPECT_DEATH(
      {
        Registry r;
        r.gauge("x", "X.");
        r.counter("x", "X.");
      },
      "");
  EXPECT_DEATH(
      {
        Registry r;
        r.histogram("h", "H.").add({{"le", "1"}}, Histogram());
      },
      "");
}

}  // namespace
