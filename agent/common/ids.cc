#include "agent/common/ids.h"

#include <sys/random.h>

#include <cstdint>
#include <random>

namespace agent {

std::string new_id() {
  static const char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  // Seeded once from the kernel; ids need to be unique, not secret.
  static std::mt19937_64 rng = [] {
    uint64_t seed[2] = {0, 0};
    if (getrandom(seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed)) {
      seed[0] = std::random_device{}();
    }
    std::seed_seq seq{seed[0], seed[0] >> 32, seed[1], seed[1] >> 32};
    return std::mt19937_64(seq);
  }();
  std::string id(22, '0');
  uint64_t a = rng(), b = rng();
  for (int i = 0; i < 22; i++) {
    uint64_t& src = i < 11 ? a : b;
    id[static_cast<size_t>(i)] = kAlphabet[src % 62];
    src /= 62;
  }
  return id;
}

}  // namespace agent
