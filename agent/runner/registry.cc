#include "agent/runner/registry.h"

#include <algorithm>

namespace agent::runner {

Status Registry::add(std::unique_ptr<RunnerFactory> factory, RunnerTraits traits) {
  size_t idx = entries_.size();
  std::string name(factory->type());
  if (by_name_.count(name) != 0) {
    return Error(Errc::kAlreadyExists, "runner type '" + name + "' registered twice");
  }
  by_name_[name] = {idx, false};
  for (std::string_view alias : factory->aliases()) {
    if (!by_name_.emplace(std::string(alias), std::make_pair(idx, true)).second) {
      return Error(Errc::kAlreadyExists, "runner alias '" + std::string(alias) + "' registered twice");
    }
  }
  entries_.push_back({std::move(factory), nullptr, traits});
  return {};
}

Status Registry::create_all(RunnerContext& ctx) {
  for (Entry& e : entries_) {
    auto r = e.factory->create(ctx);
    if (!r.ok()) return std::move(r).error().context("creating runner " + std::string(e.factory->type()));
    e.runner = std::move(r).value();
  }
  return {};
}

Lookup Registry::find(std::string_view type) const {
  auto it = by_name_.find(std::string(type));
  if (it == by_name_.end()) return {};
  const Entry& e = entries_[it->second.first];
  return {e.runner.get(), e.factory->type(), it->second.second, e.traits};
}

std::vector<std::string> Registry::types() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) out.emplace_back(e.factory->type());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Runner*> Registry::runners() const {
  std::vector<Runner*> out;
  for (const Entry& e : entries_) {
    if (e.runner) out.push_back(e.runner.get());
  }
  return out;
}

void Registry::close_all() {
  for (Entry& e : entries_) {
    if (e.runner) e.runner->close();
  }
}

}  // namespace agent::runner
