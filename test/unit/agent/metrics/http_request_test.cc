// The request head parser of the metrics listener: what a scraper sends is
// taken, everything else refused with the right status at its first bad line.
#include "agent/metrics/http_request.h"

#include <gtest/gtest.h>

#include <string>

namespace {

using agent::metrics::HttpLimits;
using agent::metrics::HttpParse;
using agent::metrics::parse_http_request;

TEST(HttpRequest, AScrapersRequest) {
  std::string req =
      "GET /metrics?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9464\r\nUser-Agent: Prometheus/2.45\r\n"
      "Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1\r\nAccept-Encoding: gzip\r\n"
      "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\nGET /next";
  auto r = parse_http_request(req);
  ASSERT_EQ(r.kind, HttpParse::kComplete) << r.reason;
  EXPECT_EQ(r.head.method, "GET");
  EXPECT_EQ(r.head.path, "/metrics");
  EXPECT_EQ(r.head.query, "x=1");
  EXPECT_EQ(r.head.minor_version, 1);
  EXPECT_TRUE(r.head.keep_alive);
  EXPECT_EQ(r.head.header_count, 5u);
  EXPECT_EQ(req.substr(r.head.head_bytes), "GET /next");
}

TEST(HttpRequest, IncompleteUntilTheBlankLineAndEachPrefixIsIncomplete) {
  std::string req = "HEAD /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  for (size_t n = 0; n < req.size(); n++) {
    EXPECT_EQ(parse_http_request(req.substr(0, n)).kind, HttpParse::kIncomplete) << n;
  }
  auto r = parse_http_request(req);
  ASSERT_EQ(r.kind, HttpParse::kComplete);
  EXPECT_EQ(r.head.method, "HEAD");
  EXPECT_EQ(r.head.minor_version, 0);
  EXPECT_TRUE(r.head.keep_alive);
  EXPECT_EQ(r.head.head_bytes, req.size());
}

TEST(HttpRequest, ConnectionCloseAndHttp10) {
  auto r = parse_http_request("GET / HTTP/1.1\r\nHost: a\r\nConnection: TE, Close\r\n\r\n");
  ASSERT_EQ(r.kind, HttpParse::kComplete);
  EXPECT_FALSE(r.head.keep_alive);
  r = parse_http_request("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(r.kind, HttpParse::kComplete);
  EXPECT_FALSE(r.head.keep_alive);
  // Bare LF line ends are accepted (RFC 9112 2.2).
  r = parse_http_request("GET /metrics HTTP/1.1\nHost: a\n\n");
  ASSERT_EQ(r.kind, HttpParse::kComplete);
}

TEST(HttpRequest, RefusedWithTheirStatus) {
  struct Case {
    std::string input;
    int status;
  };
  for (const Case& c : {
           Case{"junk\r\n", 400},
           Case{"GET /metrics\r\n", 400},
           Case{"GET  /metrics HTTP/1.1\r\n", 400},
           Case{"GET /metrics HTTP/1.1 x\r\n", 400},
           Case{"G(T /metrics HTTP/1.1\r\n", 400},
           Case{"GET metrics HTTP/1.1\r\n", 400},
           Case{"GET http://a/metrics HTTP/1.1\r\n", 400},
           Case{"GET /met\x01rics HTTP/1.1\r\n", 400},
           Case{"GET /metrics HTTP/2.0\r\n", 505},
           Case{"GET /metrics HTTP/1.2\r\n", 505},
           Case{"GET /metrics HTTX/1.1\r\n", 400},
           Case{"GET /metrics HTTP/1.1\rX", 400},
           Case{"GET /metrics HTTP/1.1\r\nHost: a\r\n folded\r\n", 400},
           Case{"GET /metrics HTTP/1.1\r\nNo colon\r\n", 400},
           Case{"GET /metrics HTTP/1.1\r\nBad Name: x\r\n", 400},
           Case{"GET /metrics HTTP/1.1\r\nX: a\x01z\r\n", 400},
           Case{"GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n", 400},
           Case{"GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n", 400},
           Case{"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n", 400},
           Case{"GET /metrics HTTP/1.1\r\n\r\n", 400},  // no Host
           Case{"GET /" + std::string(3000, 'a') + " HTTP/1.1\r\n", 414},
       }) {
    auto r = parse_http_request(c.input);
    ASSERT_EQ(r.kind, HttpParse::kError) << c.input;
    EXPECT_EQ(r.status, c.status) << c.input << ": " << r.reason;
    EXPECT_FALSE(r.reason.empty());
  }
  // Content-Length: 0 is no body.
  EXPECT_EQ(parse_http_request("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n").kind,
            HttpParse::kComplete);
}

TEST(HttpRequest, LimitsOfSizeAndCount) {
  HttpLimits limits;
  limits.max_head_bytes = 256;
  limits.max_headers = 3;
  // A head that does not end within the limit: 431; a request line alone: 414.
  std::string endless = "GET /metrics HTTP/1.1\r\nX: " + std::string(300, 'a');
  auto r = parse_http_request(endless, limits);
  ASSERT_EQ(r.kind, HttpParse::kError);
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(parse_http_request(endless.substr(0, 255), limits).kind, HttpParse::kIncomplete);
  r = parse_http_request("GET /" + std::string(300, 'a'), limits);
  ASSERT_EQ(r.kind, HttpParse::kError);
  EXPECT_EQ(r.status, 414);
  r = parse_http_request("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits);
  ASSERT_EQ(r.kind, HttpParse::kError);
  EXPECT_EQ(r.status, 431);
  // A stream of blank lines before the request is not skipped for ever.
  r = parse_http_request(std::string(100, '\n'), limits);
  EXPECT_EQ(r.kind, HttpParse::kError);
}

}  // namespace
