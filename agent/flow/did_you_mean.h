// "did you mean 'commands'?" for misspelt property and type names.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace agent::flow {

// Case-insensitive optimal-string-alignment distance.
size_t edit_distance(std::string_view a, std::string_view b);
// The closest candidate within a small distance (at most 2, or 1 for short
// words), or "" when none is close.
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates);
std::string did_you_mean(std::string_view word, std::initializer_list<std::string_view> candidates);

}  // namespace agent::flow
