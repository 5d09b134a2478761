// One request in flight: its libcurl easy handle, what it sends, what came back
// so far and the user's callbacks. Internal to HttpClient. Loop thread only.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

#include "agent/common/result.h"
#include "agent/http/client.h"
#include "agent/http/request.h"

namespace agent::http {

class Transfer {
 public:
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer();

  static std::unique_ptr<Transfer> buffered(Request request, HttpClient::DoneFn done);
  static std::unique_ptr<Transfer> streaming(Request request, HttpClient::HeadFn on_head,
                                             HttpClient::DataFn on_data,
                                             HttpClient::EndFn on_end);

  // Creates and configures the easy handle; CURLOPT_PRIVATE points at this.
  Status prepare(HttpClient* client);

  // Completes with `status` (ok, or the error to report), calling exactly one
  // of done / on_end. The transfer must already be out of the multi handle.
  void complete(Status status);

  // The error for a failed libcurl transfer, naming the method and URL.
  Error curl_error(CURLcode code) const;
  Error cancelled_error(std::string_view why) const;

  CURL* easy() const { return easy_; }
  RequestId id = 0;
  bool dirty = false;  // in HttpClient::dirty_

  // Stream delivery (HttpClient::flush): moves out what arrived so far.
  bool take_head() {
    bool ready = head_ready_ && !head_delivered_;
    if (ready) head_delivered_ = true;
    return ready;
  }
  bool is_stream() const { return streaming_; }
  const Response& response() const { return response_; }
  std::string take_pending() { return std::move(pending_); }
  HttpClient::HeadFn& on_head() { return on_head_; }
  HttpClient::DataFn& on_data() { return on_data_; }

 private:
  explicit Transfer(Request request) : request_(std::move(request)) {}
  static size_t on_write(char* data, size_t size, size_t n, void* userp) noexcept;
  static size_t on_header(char* data, size_t size, size_t n, void* userp) noexcept;
  void header_line(std::string_view line);

  Request request_;
  Response response_;
  CURL* easy_ = nullptr;
  curl_slist* header_list_ = nullptr;
  HttpClient* client_ = nullptr;
  bool streaming_ = false;
  bool headers_done_ = false;
  bool head_ready_ = false;
  bool head_delivered_ = false;
  std::string pending_;  // stream body not yet delivered
  HttpClient::DoneFn done_;
  HttpClient::HeadFn on_head_;
  HttpClient::DataFn on_data_;
  HttpClient::EndFn on_end_;
  char error_buf_[CURL_ERROR_SIZE] = {};
};

}  // namespace agent::http
